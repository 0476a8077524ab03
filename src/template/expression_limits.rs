//! Expressions bounded before minijinja parses them: no `{{ }}` or `{% %}` tag may hold more
//! than [`MAX_OPERATORS`] operators.
//!
//! minijinja's parser guards the nesting of statements and parentheses, but not chains: a
//! run of unary minus signs, attribute lookups, binary operators or filters becomes a tree
//! as deep as the chain is long, and parsing (`-`), compiling or evaluating it recurses once
//! per level, so 20,000 of them overflow the stack and abort the process. The tree an
//! expression builds is never deeper than the operators it holds, so counting them with
//! minijinja's own lexer (strings, comments and `{% raw %}` skipped exactly as the parser
//! skips them) bounds the recursion before it starts. The limit also keeps `~` chains cheap:
//! each `~` copies the text built so far, so a chain costs the square of its length, and a
//! bounded chain a bounded square. Contract: pure; [`check`] only reads the text.

use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;

/// The most operators (`-`, `+`, `.`, `[`, `|`, `~`, comparisons, `and`/`or`/`not`/`is`/`in`,
/// calls, ...) one tag may hold. A cloud-config's tags hold a handful; 250 levels stay far
/// inside a 2 MiB thread stack in a debug build.
pub const MAX_OPERATORS: usize = 250;

/// A tag with too many operators: its byte range in the text and how many it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// Start of the tag (its `{{` or `{%`).
    pub start: usize,
    /// Where the operator over the limit is.
    pub end: usize,
    /// Operators counted up to there (one more than the limit).
    pub operators: usize,
}

/// Whether a token adds a level to the expression tree it is part of.
fn deepens(token: &Token<'_>) -> bool {
    match token {
        Token::Ident(word) => matches!(*word, "and" | "or" | "not" | "is" | "in" | "if"),
        Token::Plus
        | Token::Minus
        | Token::Mul
        | Token::Div
        | Token::FloorDiv
        | Token::Pow
        | Token::Mod
        | Token::Dot
        | Token::Tilde
        | Token::Pipe
        | Token::Eq
        | Token::Ne
        | Token::Gt
        | Token::Gte
        | Token::Lt
        | Token::Lte
        | Token::BracketOpen
        | Token::ParenOpen
        | Token::BraceOpen => true,
        _ => false,
    }
}

/// The first tag of `text` (a template body) with more than [`MAX_OPERATORS`] operators.
/// A lexical error ends the scan: minijinja's parser reports it as a syntax error.
///
/// # Errors
/// The tag over the limit.
pub fn check(text: &str, syntax: SyntaxConfig) -> Result<(), TooLarge> {
    let mut start = 0;
    let mut operators = 0;
    for item in tokenize(text, false, syntax) {
        let Ok((token, span)) = item else {
            return Ok(());
        };
        match token {
            Token::VariableStart | Token::BlockStart => {
                start = span.start_offset as usize;
                operators = 0;
            }
            ref t if deepens(t) => {
                operators += 1;
                if operators > MAX_OPERATORS {
                    return Err(TooLarge {
                        start,
                        end: span.end_offset as usize,
                        operators,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax() -> SyntaxConfig {
        SyntaxConfig::default()
    }

    #[test]
    fn ordinary_tags_pass() {
        let text = "a {{ x.y | default('-') ~ '+' }} {% if a and not b %}{{ [1, 2, 3] }}{% endif %}\n\
                    {# - - - - #}{% raw %}{{ {{ - - - }}{% endraw %}";
        assert_eq!(check(text, syntax()), Ok(()));
    }

    #[test]
    fn operators_in_strings_and_comments_do_not_count() {
        let many = "-".repeat(10_000);
        let text =
            format!("{{{{ '{many}' }}}}{{# {many} #}}{{% raw %}}{{{{ {many}1 }}}}{{% endraw %}}");
        assert_eq!(check(&text, syntax()), Ok(()));
    }

    #[test]
    fn each_kind_of_chain_is_refused_at_the_limit() {
        for (chain, line) in [
            ("-".repeat(19_296) + "1", 2),
            (format!("x{}", ".a".repeat(40_000)), 2),
            (format!("1{}", " + 1".repeat(26_000)), 2),
            (format!("'a'{}", "|lower".repeat(50_000)), 2),
            (format!("'a'{}", " ~ 'a'".repeat(20_000)), 2),
        ] {
            let text = format!("ok\n{{{{ {chain} }}}}\n");
            let err = check(&text, syntax()).expect_err("refused");
            assert_eq!(err.start, 3, "{line}");
            assert_eq!(err.operators, MAX_OPERATORS + 1);
        }
    }

    #[test]
    fn the_limit_itself_renders_on_a_small_stack() {
        // At the limit, each chain parses, compiles and renders on a 2 MiB thread (the
        // stack a fleet's worker threads get) in a debug build.
        let n = MAX_OPERATORS;
        let chains = [
            "-".repeat(n) + "1",
            format!("x{}", ".a".repeat(n)),
            format!("1{}", " + 1".repeat(n)),
            format!("'a'{}", "|lower".repeat(n)),
            format!("'a'{}", " ~ 'a'".repeat(n)),
            format!("{}1{}", "(".repeat(n / 2), ")".repeat(n / 2)),
        ];
        for chain in chains {
            let text = format!("{{{{ {chain} }}}}");
            assert_eq!(check(&text, syntax()), Ok(()), "{chain:.20}");
            let rendered = std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn(move || {
                    let mut env = minijinja::Environment::new();
                    env.add_template_owned("t", text)
                        .map_err(|e| e.to_string())?;
                    let x = minijinja::context! { a => minijinja::context! {} };
                    let x = (0..n).fold(x, |inner, _| minijinja::context! { a => inner });
                    env.get_template("t")
                        .and_then(|t| t.render(minijinja::context! { x => x }))
                        .map_err(|e| e.to_string())
                })
                .expect("thread")
                .join()
                .expect("no overflow");
            // Parentheses beyond the parser's own nesting limit fail cleanly; the rest render.
            if let Err(e) = rendered {
                assert!(e.contains("recursion"), "{e}");
            }
        }
    }
}
