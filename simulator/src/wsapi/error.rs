//! The 3PAR error body: `{"code": <int>, "desc": "...", "ref"?: "...", "debug1"?: "..."}`.
//!
//! Every error the server sends goes through [`ApiError`], built from a [`crate::ErrorCode`] so
//! the number, the HTTP status and the `desc` text come from the model's one code table.
//! `desc` is the code's text (verbatim for the strings clients compare, spec §15.2); for the
//! generic codes 12 and 40 a short detail is appended (`invalid input: ...`), since those carry
//! the member name clients look for (Cinder looks for `keepVV`). The model's sentence of context
//! goes into `debug1` for people.

use serde::Serialize;

use super::engine::EngineError;
use crate::ErrorCode;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) code: ErrorCode,
    pub(crate) desc: String,
    pub(crate) reference: Option<String>,
    pub(crate) debug: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: u32,
    desc: &'a str,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    debug1: Option<&'a str>,
}

impl ApiError {
    /// An error with the code's own `desc`.
    pub(crate) fn new(code: ErrorCode) -> ApiError {
        ApiError { code, desc: code.desc().to_owned(), reference: None, debug: None }
    }

    /// An error about request member `member`; codes 12 and 40 name it in `desc` too.
    pub(crate) fn member(code: ErrorCode, member: &str, detail: &str) -> ApiError {
        let mut error = ApiError::new(code);
        if matches!(code, ErrorCode::INV_INPUT | ErrorCode::INV_INPUT_MISSING_REQUIRED) {
            error.desc = format!("{}: {detail}", code.desc());
        }
        error.reference = Some(member.to_owned());
        error.debug = Some(detail.to_owned());
        error
    }

    /// `400 INV_INPUT` with a detail.
    pub(crate) fn invalid(detail: &str) -> ApiError {
        let mut error = ApiError::new(ErrorCode::INV_INPUT);
        error.desc = format!("{}: {detail}", ErrorCode::INV_INPUT.desc());
        error
    }

    /// Sets `ref`.
    pub(crate) fn with_ref(mut self, reference: &str) -> ApiError {
        self.reference = Some(reference.to_owned());
        self
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        self.code.http_status()
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Vec<u8> {
        let body = Body {
            code: self.code.number(),
            desc: &self.desc,
            reference: self.reference.as_deref(),
            debug1: self.debug.as_deref(),
        };
        serde_json::to_vec(&body).expect("an error body serialises")
    }
}

impl From<crate::Error> for ApiError {
    fn from(error: crate::Error) -> ApiError {
        let mut api = ApiError::new(error.code);
        if matches!(error.code, ErrorCode::INV_INPUT | ErrorCode::INV_INPUT_MISSING_REQUIRED) {
            api.desc = format!("{}: {}", error.code.desc(), error.message);
        }
        api.debug = Some(error.message);
        api
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> ApiError {
        let mut api = ApiError::new(ErrorCode::INT_SERV_ERR);
        api.debug = Some(
            match error {
                EngineError::Stopped => "the server is shutting down",
                EngineError::Panicked => "the model panicked while serving this request (a simulator bug)",
            }
            .to_owned(),
        );
        api
    }
}

/// Result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
