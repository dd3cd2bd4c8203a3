//! The `?query="..."` filter of collections (spec §1.6).
//!
//! Grammar: `expr := term (" OR " term)*`; `term := attr " EQ " value | attr "==" value |
//! attr "[" sub (" OR " sub)* "]"` with `sub := attr ("==" | " EQ ") value`; a value runs to the
//! next space or `]`. A term compares the named member of each rendered object as a string
//! (numbers and booleans by their JSON text); `[...]` matches objects whose array member has an
//! element matching any sub-term. Members named `wwn` compare case-insensitively and without
//! colons; `name` (iSCSI names) case-insensitively.
//! Design choice: filtering the rendered JSON makes every member queryable with one evaluator;
//! the cost is rendering every object of the collection before filtering.

use serde_json::Value;

use super::error::{ApiError, ApiResult};

/// One comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparison {
    attr: String,
    value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Equals(Comparison),
    Contains { attr: String, any: Vec<Comparison> },
}

/// A parsed query: objects matching any term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    terms: Vec<Term>,
}

fn bad(detail: &str) -> ApiError {
    ApiError::invalid(&format!("bad query: {detail}"))
}

struct Parser<'a> {
    rest: &'a str,
}

impl<'a> Parser<'a> {
    fn skip_spaces(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest.starts_with(token) {
            self.rest = &self.rest[token.len()..];
            true
        } else {
            false
        }
    }

    fn word(&mut self, stops: &[char]) -> &'a str {
        let end = self.rest.find(|c: char| c.is_whitespace() || stops.contains(&c)).unwrap_or(self.rest.len());
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        word
    }

    fn comparison(&mut self, attr: &str) -> ApiResult<Comparison> {
        self.skip_spaces();
        if !self.eat("==") {
            if !self.eat("EQ") {
                return Err(bad(&format!("expected '==' or 'EQ' after '{attr}'")));
            }
            self.skip_spaces();
        }
        self.skip_spaces();
        let value = self.word(&[']']);
        if value.is_empty() {
            return Err(bad(&format!("missing value for '{attr}'")));
        }
        Ok(Comparison { attr: attr.to_owned(), value: value.to_owned() })
    }

    fn attr(&mut self) -> ApiResult<&'a str> {
        self.skip_spaces();
        let attr = self.word(&['=', '[', ']']);
        if attr.is_empty() || !attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad(&format!("bad attribute name '{attr}'")));
        }
        Ok(attr)
    }

    fn term(&mut self) -> ApiResult<Term> {
        let attr = self.attr()?;
        if self.eat("[") {
            let mut any = Vec::new();
            // Bounded: each round consumes at least one sub-term.
            loop {
                let sub = self.attr()?;
                any.push(self.comparison(sub)?);
                self.skip_spaces();
                if self.eat("]") {
                    break;
                }
                if !self.eat("OR") {
                    return Err(bad("expected 'OR' or ']'"));
                }
            }
            return Ok(Term::Contains { attr: attr.to_owned(), any });
        }
        Ok(Term::Equals(self.comparison(attr)?))
    }
}

impl Query {
    /// Parses the decoded query value (with or without its surrounding double quotes).
    ///
    /// Errors: `INV_INPUT` (12) for anything the grammar does not accept.
    pub(crate) fn parse(text: &str) -> ApiResult<Query> {
        let text = text.trim();
        let text = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
        let mut parser = Parser { rest: text };
        let mut terms = vec![parser.term()?];
        // Bounded: each round consumes at least one term.
        loop {
            parser.skip_spaces();
            if parser.rest.is_empty() {
                return Ok(Query { terms });
            }
            if !parser.eat("OR") {
                return Err(bad(&format!("unexpected '{}'", parser.rest)));
            }
            terms.push(parser.term()?);
        }
    }

    /// Whether `object` matches.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.terms.iter().any(|term| match term {
            Term::Equals(comparison) => compare(object, comparison),
            Term::Contains { attr, any } => match object.get(attr) {
                Some(Value::Array(items)) => items.iter().any(|item| any.iter().any(|c| compare(item, c))),
                _ => false,
            },
        })
    }
}

fn compare(object: &Value, comparison: &Comparison) -> bool {
    let text = match object.get(&comparison.attr) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => return false,
    };
    match comparison.attr.as_str() {
        "wwn" | "volumeWWN" | "remoteName" => normalise_wwn(&text) == normalise_wwn(&comparison.value),
        "name" => text.eq_ignore_ascii_case(&comparison.value),
        _ => text == comparison.value,
    }
}

fn normalise_wwn(text: &str) -> String {
    text.chars().filter(|c| *c != ':').collect::<String>().to_ascii_uppercase()
}

/// Applies the optional `query` parameter to rendered members.
pub(crate) fn filter(query: Option<String>, members: Vec<Value>) -> ApiResult<Vec<Value>> {
    match query {
        None => Ok(members),
        Some(text) => {
            let query = Query::parse(&text)?;
            Ok(members.into_iter().filter(|m| query.matches(m)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // Goal: every query form the Python client sends parses and selects the right objects;
    // broken queries are refused. Method: parse the spec's examples and match sample objects.
    #[test]
    fn client_query_forms() {
        let volume = json!({"name": "SNAP1", "copyOf": "VOL1", "wwn": "60002AC0000000000000000100004E21"});
        assert!(Query::parse("\"copyOf EQ VOL1\"").unwrap().matches(&volume));
        assert!(!Query::parse("\"copyOf EQ VOL2\"").unwrap().matches(&volume));
        assert!(Query::parse("wwn EQ x OR wwn==60002ac0000000000000000100004e21").unwrap().matches(&volume));
        let host = json!({"name": "h", "FCPaths": [{"wwn": "0000000000123456"}], "iSCSIPaths": []});
        let q = "\"FCPaths[wwn==00:00:00:00:00:12:34:56 OR wwn==1] OR iSCSIPaths[name==iqn.1993-08.org.debian:01:0000012]\"";
        assert!(Query::parse(q).unwrap().matches(&host));
        let iscsi = json!({"FCPaths": [], "iSCSIPaths": [{"name": "iqn.1993-08.org.debian:01:0000012"}]});
        assert!(Query::parse(q).unwrap().matches(&iscsi));
        assert!(Query::parse("\"id EQ 5\"").unwrap().matches(&json!({"id": 5})));
        for broken in ["", "\"copyOf\"", "copyOf EQ", "FCPaths[wwn==1", "a EQ b AND c EQ d", "a-b EQ c"] {
            assert!(Query::parse(broken).is_err(), "{broken}");
        }
    }
}
