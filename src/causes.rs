//! An error told with its causes, on one line: the error's own text, then each cause's text
//! after a `: `, leaving out a cause whose text the line already holds (reqwest's and
//! hyper's errors say "error sending request" and keep the why in their sources). Pure; no
//! I/O.

/// `e` and its causes, joined by `: ` (a cause whose text is already there is left out).
#[must_use]
pub fn chain(e: &dyn std::error::Error) -> String {
    std::iter::successors(e.source(), |cause| cause.source()).fold(
        e.to_string(),
        |mut text, cause| {
            let more = cause.to_string();
            if !text.contains(&more) {
                text.push_str(": ");
                text.push_str(&more);
            }
            text
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Outer(&'static str, #[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Inner(&'static str);

    #[test]
    fn causes_follow_unless_already_said() {
        let e = Outer("error sending request", Inner("connection refused"));
        assert_eq!(chain(&e), "error sending request: connection refused");
        let e = Outer("dns error: no such host", Inner("no such host"));
        assert_eq!(chain(&e), "dns error: no such host");
    }
}
