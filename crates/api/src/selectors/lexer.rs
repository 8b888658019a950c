//! Splits a label selector string into tokens.

/// One token of a label selector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Token<'a> {
    Identifier(&'a str),
    In,
    NotIn,
    /// `!`, the does-not-exist prefix.
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    OpenParen,
    CloseParen,
    Comma,
    End,
}

impl<'a> Token<'a> {
    /// The text the token was read from, as error messages quote it.
    pub(super) fn literal(self) -> &'a str {
        match self {
            Token::Identifier(s) => s,
            Token::In => "in",
            Token::NotIn => "notin",
            Token::Bang => "!",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::NotEquals => "!=",
            Token::GreaterThan => ">",
            Token::LessThan => "<",
            Token::OpenParen => "(",
            Token::CloseParen => ")",
            Token::Comma => ",",
            Token::End => "",
        }
    }

    /// The token read as a key or value: keywords count as plain words there,
    /// so `in` is a valid label key or value.
    pub(super) fn as_word(self) -> Option<&'a str> {
        match self {
            Token::Identifier(s) => Some(s),
            Token::In => Some("in"),
            Token::NotIn => Some("notin"),
            _ => None,
        }
    }
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_symbol(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

/// The tokens of `input`, always ending with [`Token::End`].
pub(super) fn tokenize(input: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = input;
    loop {
        rest = rest.trim_start_matches(is_whitespace);
        let Some(first) = rest.chars().next() else {
            tokens.push(Token::End);
            return tokens;
        };
        let (token, len) = if is_symbol(first) {
            symbol(rest)
        } else {
            word(rest)
        };
        tokens.push(token);
        rest = &rest[len..];
    }
}

/// The longest symbol at the start of `s` (every symbol is one or two bytes).
fn symbol(s: &str) -> (Token<'_>, usize) {
    let two = match s.get(..2) {
        Some("==") => Some(Token::DoubleEquals),
        Some("!=") => Some(Token::NotEquals),
        _ => None,
    };
    if let Some(token) = two {
        return (token, 2);
    }
    let token = match s.as_bytes().first() {
        Some(b'=') => Token::Equals,
        Some(b'!') => Token::Bang,
        Some(b'(') => Token::OpenParen,
        Some(b')') => Token::CloseParen,
        Some(b',') => Token::Comma,
        Some(b'>') => Token::GreaterThan,
        _ => Token::LessThan,
    };
    (token, 1)
}

/// A word running up to the next space or symbol.
fn word(s: &str) -> (Token<'_>, usize) {
    let len = s
        .find(|c| is_whitespace(c) || is_symbol(c))
        .unwrap_or(s.len());
    let text = &s[..len];
    let token = match text {
        "in" => Token::In,
        "notin" => Token::NotIn,
        _ => Token::Identifier(text),
    };
    (token, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenize_reads_words_symbols_and_keywords() {
        let tokens = tokenize(" a!=b,c in (x, y),!d>=");
        assert_eq!(
            tokens,
            vec![
                Token::Identifier("a"),
                Token::NotEquals,
                Token::Identifier("b"),
                Token::Comma,
                Token::Identifier("c"),
                Token::In,
                Token::OpenParen,
                Token::Identifier("x"),
                Token::Comma,
                Token::Identifier("y"),
                Token::CloseParen,
                Token::Comma,
                Token::Bang,
                Token::Identifier("d"),
                Token::GreaterThan,
                Token::Equals,
                Token::End,
            ]
        );
    }

    #[test]
    fn tokenize_keeps_dots_and_slashes_inside_words() {
        assert_eq!(
            tokenize("app.kubernetes.io/name==web-1"),
            vec![
                Token::Identifier("app.kubernetes.io/name"),
                Token::DoubleEquals,
                Token::Identifier("web-1"),
                Token::End
            ]
        );
    }

    #[test]
    fn tokenize_of_blank_input_is_only_the_end() {
        assert_eq!(tokenize("  \t"), vec![Token::End]);
    }
}
