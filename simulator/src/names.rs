//! 3PAR object-name rules (WSAPI spec §1.7), shared by every object kind.

use crate::error::{Error, ErrorCode, Result};

/// Longest volume, snapshot, CPG, host, domain or key name.
pub const NAME31: usize = 31;
/// Longest volume-set or host-set name.
pub const NAME27: usize = 27;
/// Longest volume comment.
pub const COMMENT_MAX: usize = 511;
/// Longest set comment.
pub const SET_COMMENT_MAX: usize = 255;

/// Checks `name` against the 3PAR rules: 1..=`max_len` characters from `A–Z a–z 0–9 . _ -`.
///
/// `what` names the object kind for the message ("volume", "CPG", ...).
pub fn validate_name(what: &str, name: &str, max_len: usize) -> Result<()> {
    if name.is_empty() {
        return Err(Error::new(ErrorCode::INV_INPUT_EMPTY_STR, format!("{what} name is empty")));
    }
    if name.chars().count() > max_len {
        return Err(Error::new(
            ErrorCode::INV_INPUT_EXCEEDS_LENGTH,
            format!("{what} name '{name}' is longer than {max_len} characters"),
        ));
    }
    if let Some(bad) = name.chars().find(|c| !is_name_char(*c)) {
        return Err(Error::new(
            ErrorCode::INV_INPUT_ILLEGAL_CHAR,
            format!("{what} name '{name}' contains the illegal character {bad:?}"),
        ));
    }
    Ok(())
}

/// Checks a metadata key: like a name, but `:` is also allowed.
pub fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::new(ErrorCode::INV_INPUT_EMPTY_STR, "key is empty"));
    }
    if key.chars().count() > NAME31 {
        return Err(Error::new(ErrorCode::INV_INPUT_EXCEEDS_LENGTH, format!("key is longer than {NAME31} characters")));
    }
    if let Some(bad) = key.chars().find(|c| !is_name_char(*c) && *c != ':') {
        return Err(Error::new(
            ErrorCode::INV_INPUT_ILLEGAL_CHAR,
            format!("key '{key}' contains the illegal character {bad:?}"),
        ));
    }
    Ok(())
}

/// Checks a comment: printable characters, at most `max_len`.
pub fn validate_comment(comment: &str, max_len: usize) -> Result<()> {
    // Printable ASCII (every comment a backup tool writes, one per copy it takes): one byte per
    // character and no control character, found in one pass without an early exit, which the
    // compiler vectorises. Other ASCII: the control characters are 0x00–0x1F and 0x7F; the same
    // answers without decoding characters.
    let printable_ascii = comment.bytes().fold(true, |printable, b| printable & (b' '..=b'~').contains(&b));
    let (length, control) = if printable_ascii {
        (comment.len(), false)
    } else if comment.is_ascii() {
        (comment.len(), comment.bytes().any(|b| b.is_ascii_control()))
    } else {
        (comment.chars().count(), comment.chars().any(char::is_control))
    };
    if length > max_len {
        return Err(Error::new(
            ErrorCode::INV_INPUT_EXCEEDS_LENGTH,
            format!("comment is longer than {max_len} characters"),
        ));
    }
    if control {
        return Err(Error::new(ErrorCode::INV_INPUT_ILLEGAL_CHAR, "comment contains a control character"));
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_checks_agree_with_character_rules() {
        // Goal: the ASCII fast path answers as the character-based rules do. Method: every
        // single byte value and mixed strings, against `chars().count()` and `char::is_control`.
        let reference = |c: &str, max: usize| {
            if c.chars().count() > max {
                Some(ErrorCode::INV_INPUT_EXCEEDS_LENGTH)
            } else if c.chars().any(char::is_control) {
                Some(ErrorCode::INV_INPUT_ILLEGAL_CHAR)
            } else {
                None
            }
        };
        let mut cases: Vec<String> = (0u8..=0x7f).map(|b| format!("ab{}c", b as char)).collect();
        cases.extend(
            ["", "plain", "caf\u{e9}", "tab\there", "x\u{85}y", "\u{7f}", "\u{1b}[0m", "ééé"].map(String::from),
        );
        for comment in &cases {
            for max in [0, 3, 4, 5, 100] {
                assert_eq!(
                    validate_comment(comment, max).err().map(|e| e.code),
                    reference(comment, max),
                    "{comment:?} {max}"
                );
            }
        }
    }

    #[test]
    fn names_follow_the_3par_rules() {
        assert!(validate_name("volume", "osv-AbCd.Ef_1", NAME31).is_ok());
        assert_eq!(validate_name("volume", "", NAME31).unwrap_err().code, ErrorCode::INV_INPUT_EMPTY_STR);
        assert_eq!(
            validate_name("volume", &"x".repeat(32), NAME31).unwrap_err().code,
            ErrorCode::INV_INPUT_EXCEEDS_LENGTH
        );
        assert_eq!(validate_name("host", "B&dHostName", NAME31).unwrap_err().code, ErrorCode::INV_INPUT_ILLEGAL_CHAR);
        assert!(validate_key("HPQ-cinder-CHAP:name").is_ok());
    }
}
