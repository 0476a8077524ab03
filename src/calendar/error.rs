//! Why a calendar expression is refused, and where: the byte offset lets a finding point
//! inside a YAML value.

/// Why an expression is not valid, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CalendarError {
    /// Byte offset in the expression.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// A refusal at `offset`.
pub(super) fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, CalendarError> {
    Err(CalendarError {
        offset,
        message: message.into(),
    })
}
