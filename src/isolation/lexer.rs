//! A lexer that reads SQL the way PostgreSQL's scanner does, for the isolation checks.
//!
//! Security depends on the proxy and Postgres agreeing on where a string, a comment or a
//! quoted identifier starts and ends, so this follows `scan.l` for everything that decides
//! token boundaries, with `standard_conforming_strings = on` (the proxy pins it on every
//! backend connection):
//!
//! * `--` comments and *nested* `/* */` comments; an unterminated one is an error.
//! * `'…'` strings with `''`; backslash is an ordinary character. `E'…'` strings also take
//!   backslash escapes. `N'…'` is a plain string; `B'…'` and `X'…'` know no `''` (the second
//!   quote ends them, as in Postgres).
//! * A quote after whitespace holding a newline continues the literal (`'a'<newline>'b'` is
//!   `'ab'`) in the same mode: a continued `E'…'` keeps its backslash escapes. Getting this
//!   wrong lets `E'x'<newline>'\' …'` hide a whole statement from the checks.
//! * Dollar quoting `$tag$…$tag$`; `$1` is a parameter, and `$` inside an identifier is part of it.
//! * `"…"` identifiers with `""`, kept exactly; unquoted identifiers fold ASCII letters to lower case.
//! * `U&"…"` and `U&'…'` (Unicode escapes, with `UESCAPE`) are refused rather than decoded.
//!
//! Statements are split at `;` outside strings, comments and dollar quotes. Only what the
//! checks need survives: words, string contents and punctuation.

use std::borrow::Cow;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    /// An identifier or keyword: unquoted ones folded to lower case.
    Word { text: Cow<'a, str>, quoted: bool },
    /// The contents of a string literal, escapes decoded.
    Str(Cow<'a, str>),
    /// A single punctuation character: `.` `,` `(` `)` `[` `]` `;` `:`
    Punct(char),
    /// `::`
    Cast,
    /// An operator such as `=`, `<>`, `||`.
    Op(&'a str),
    /// A number or a `$n` parameter.
    Literal,
}

impl Token<'_> {
    /// Whether this is the unquoted keyword `kw` (given in lower case).
    pub fn is_kw(&self, kw: &str) -> bool {
        matches!(self, Token::Word { text, quoted: false } if text == kw)
    }

    /// The identifier's name, for unquoted and quoted words alike.
    pub fn word(&self) -> Option<&str> {
        match self {
            Token::Word { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn is_punct(&self, c: char) -> bool {
        matches!(self, Token::Punct(p) if *p == c)
    }
}

/// One statement's tokens.
pub type Statement<'a> = Vec<Token<'a>>;

/// Splits `sql` into statements of tokens; empty statements are dropped.
pub fn statements(sql: &str) -> Result<Vec<Statement<'_>>, String> {
    let mut lexer = Lexer {
        src: sql,
        pos: 0,
        fold: true,
    };
    let mut out = Vec::new();
    let mut current = Vec::new();
    while let Some(token) = lexer.next_token()? {
        if token.is_punct(';') {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(token);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

/// Byte offsets just past each statement of `sql`: after its `;`, or the text's end for the
/// last. One per statement of [`statements`] (empty ones are skipped there too).
pub fn statement_ends(sql: &str) -> Result<Vec<usize>, String> {
    let mut lexer = Lexer {
        src: sql,
        pos: 0,
        fold: false,
    };
    let mut ends = Vec::new();
    let mut empty = true;
    while let Some(token) = lexer.next_token()? {
        if !token.is_punct(';') {
            empty = false;
        } else if !std::mem::replace(&mut empty, true) {
            ends.push(lexer.pos);
        }
    }
    if !empty {
        ends.push(sql.len());
    }
    Ok(ends)
}

/// Byte ranges of the plain literals of `sql`, in order: numbers and `'…'` strings (a
/// continued string is one range). Parameters, `E''`/`B''`/`X''`/`N''` strings, dollar
/// quotes and everything inside comments are not plain literals.
pub fn literal_spans(sql: &str) -> Result<Vec<Range<usize>>, String> {
    token_spans(sql, |token, first| match token {
        Token::Str(_) => first == b'\'',
        Token::Literal => first != b'$',
        _ => false,
    })
}

/// Byte ranges of the `$n` parameters of `sql`, in order (none inside strings or comments).
pub fn parameter_spans(sql: &str) -> Result<Vec<Range<usize>>, String> {
    token_spans(sql, |token, first| {
        matches!(token, Token::Literal) && first == b'$'
    })
}

/// Byte ranges of the tokens `keep` picks, given each token and its first byte.
fn token_spans(
    sql: &str,
    keep: impl Fn(&Token<'_>, u8) -> bool,
) -> Result<Vec<Range<usize>>, String> {
    let mut lexer = Lexer {
        src: sql,
        pos: 0,
        fold: false,
    };
    let mut spans = Vec::new();
    loop {
        lexer.skip_space_and_comments()?;
        let start = lexer.pos;
        let Some(token) = lexer.next_token()? else {
            return Ok(spans);
        };
        if keep(&token, sql.as_bytes()[start]) {
            spans.push(start..lexer.pos);
        }
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Whether words are folded to lower case (not needed where only positions matter).
    fold: bool,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_ident_char(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == '$'
}

const OPERATOR_CHARS: &str = "+-*/<>=~!@#%^&|`?";

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn next_token(&mut self) -> Result<Option<Token<'a>>, String> {
        self.skip_space_and_comments()?;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let token = match c {
            '\'' => Token::Str(self.quoted_string()?),
            '"' => self.quoted_ident()?,
            '$' if self.peek_at(1).is_some_and(|d| d.is_ascii_digit()) => {
                self.pos += 1;
                self.take_while(|c| c.is_ascii_digit());
                Token::Literal
            }
            '$' => Token::Str(Cow::Borrowed(self.dollar_string()?)),
            ':' if self.peek_at(1) == Some(':') => {
                self.pos += 2;
                Token::Cast
            }
            '0'..='9' => self.number(),
            '.' if self.peek_at(1).is_some_and(|d| d.is_ascii_digit()) => self.number(),
            '.' | ',' | '(' | ')' | '[' | ']' | ';' | ':' => {
                self.pos += 1;
                Token::Punct(c)
            }
            c if is_ident_start(c) => self.word_or_prefixed_string()?,
            c if OPERATOR_CHARS.contains(c) => self.operator(),
            other => return Err(format!("unexpected character {other:?}")),
        };
        Ok(Some(token))
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        &self.src[start..self.pos]
    }

    fn skip_space_and_comments(&mut self) -> Result<(), String> {
        loop {
            self.take_while(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b'));
            let rest = self.rest();
            if rest.starts_with("--") {
                self.take_while(|c| c != '\n' && c != '\r');
            } else if rest.starts_with("/*") {
                self.block_comment()?;
            } else {
                return Ok(());
            }
        }
    }

    /// Postgres block comments nest.
    fn block_comment(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        while self.pos < self.src.len() {
            let rest = self.rest();
            if rest.starts_with("/*") {
                depth += 1;
                self.pos += 2;
            } else if rest.starts_with("*/") {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return Ok(());
                }
            } else {
                self.pos += self.peek().map_or(1, char::len_utf8);
            }
        }
        Err("unterminated /* comment".into())
    }

    /// `'…'` with `''`; backslashes are literal (standard_conforming_strings = on).
    fn quoted_string(&mut self) -> Result<Cow<'a, str>, String> {
        let mut value = self.delimited('\'', "unterminated quoted string")?;
        while let Some(quote) = self.continuation() {
            self.pos = quote;
            let more = self.delimited('\'', "unterminated quoted string")?;
            value.to_mut().push_str(&more);
        }
        Ok(value)
    }

    /// `B'…'`/`X'…'`: no escapes at all, not even `''` (Postgres ends the string there).
    fn bit_string(&mut self) -> Result<Cow<'a, str>, String> {
        let mut value = String::new();
        loop {
            self.pos += 1; // the opening quote
            let rest = self.rest();
            let end = rest.find('\'').ok_or("unterminated quoted string")?;
            value.push_str(&rest[..end]);
            self.pos += end + 1;
            match self.continuation() {
                Some(quote) => self.pos = quote,
                None => return Ok(Cow::Owned(value)),
            }
        }
    }

    /// Postgres' `quotecontinue`: after a closing quote, whitespace that holds a newline (and
    /// `--` comments) followed by another quote continues the *same* literal, in the same
    /// mode. Returns the offset of that quote.
    fn continuation(&self) -> Option<usize> {
        let bytes = self.src.as_bytes();
        let mut i = self.pos;
        let mut newline = false;
        loop {
            match bytes.get(i) {
                Some(b' ' | b'\t' | b'\x0c' | b'\x0b') => i += 1,
                Some(b'\n' | b'\r') => {
                    newline = true;
                    i += 1;
                }
                Some(b'-') if bytes.get(i + 1) == Some(&b'-') => {
                    while !matches!(bytes.get(i), None | Some(b'\n' | b'\r')) {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        (newline && bytes.get(i) == Some(&b'\'')).then_some(i)
    }

    fn quoted_ident(&mut self) -> Result<Token<'a>, String> {
        let text = self.delimited('"', "unterminated quoted identifier")?;
        if text.is_empty() {
            return Err("zero-length delimited identifier".into());
        }
        Ok(Token::Word { text, quoted: true })
    }

    /// Reads `q…q` where a doubled `q` stands for one.
    fn delimited(&mut self, q: char, unterminated: &str) -> Result<Cow<'a, str>, String> {
        self.pos += 1;
        let start = self.pos;
        let mut owned: Option<String> = None;
        loop {
            let rest = self.rest();
            let Some(i) = rest.find(q) else {
                return Err(unterminated.into());
            };
            let piece = &rest[..i];
            self.pos += i + 1;
            if self.peek() == Some(q) {
                owned.get_or_insert_with(String::new).push_str(piece);
                owned.as_mut().expect("just set").push(q);
                self.pos += 1;
                continue;
            }
            return Ok(match owned {
                Some(mut s) => {
                    s.push_str(piece);
                    Cow::Owned(s)
                }
                None => Cow::Borrowed(&self.src[start..self.pos - 1]),
            });
        }
    }

    /// `E'…'`: backslash escapes, and `''`.
    fn escape_string(&mut self) -> Result<Cow<'a, str>, String> {
        self.pos += 1; // the opening quote
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err("unterminated quoted string".into());
            };
            self.pos += c.len_utf8();
            match c {
                '\'' if self.peek() == Some('\'') => {
                    self.pos += 1;
                    out.push('\'');
                }
                '\'' => match self.continuation() {
                    // A continued E string stays an E string: its backslashes still escape.
                    Some(quote) => self.pos = quote + 1,
                    None => return Ok(Cow::Owned(out)),
                },
                '\\' => out.push(self.backslash_escape()?),
                c => out.push(c),
            }
        }
    }

    fn backslash_escape(&mut self) -> Result<char, String> {
        let Some(c) = self.peek() else {
            return Err("unterminated quoted string".into());
        };
        self.pos += c.len_utf8();
        let hex = |lexer: &mut Self, max: usize| {
            let digits: String = lexer
                .rest()
                .chars()
                .take(max)
                .take_while(|c| c.is_ascii_hexdigit())
                .collect();
            lexer.pos += digits.len();
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
        };
        let decoded = match c {
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'x' => hex(self, 2),
            'u' => hex(self, 4),
            'U' => hex(self, 8),
            '0'..='7' => {
                let digits: String = std::iter::once(c)
                    .chain(
                        self.rest()
                            .chars()
                            .take(2)
                            .take_while(|c| ('0'..='7').contains(c)),
                    )
                    .collect();
                self.pos += digits.len() - 1;
                u32::from_str_radix(&digits, 8)
                    .ok()
                    .and_then(char::from_u32)
            }
            other => Some(other),
        };
        decoded.ok_or_else(|| "invalid escape in string".into())
    }

    /// `$tag$…$tag$`, returning the body.
    fn dollar_string(&mut self) -> Result<&'a str, String> {
        let rest = self.rest();
        let tag_len = rest[1..]
            .char_indices()
            .find(|&(i, c)| !(is_ident_start(c) || (i > 0 && c.is_ascii_digit())))
            .map(|(i, _)| i)
            .unwrap_or(rest.len() - 1);
        if !rest[1 + tag_len..].starts_with('$') {
            return Err("unexpected $".into());
        }
        let delimiter = &rest[..tag_len + 2];
        let body_start = self.pos + delimiter.len();
        let Some(end) = self.src[body_start..].find(delimiter) else {
            return Err("unterminated dollar-quoted string".into());
        };
        self.pos = body_start + end + delimiter.len();
        Ok(&self.src[body_start..body_start + end])
    }

    fn number(&mut self) -> Token<'a> {
        self.take_while(|c| c.is_ascii_digit());
        if self.peek() == Some('.') && self.peek_at(1) != Some('.') {
            self.pos += 1;
            self.take_while(|c| c.is_ascii_digit());
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = matches!(self.peek_at(1), Some('+' | '-'));
            let digit_at = if sign { 2 } else { 1 };
            if self.peek_at(digit_at).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += digit_at;
                self.take_while(|c| c.is_ascii_digit());
            }
        }
        Token::Literal
    }

    fn word_or_prefixed_string(&mut self) -> Result<Token<'a>, String> {
        let rest = self.rest();
        let mut chars = rest.chars();
        let first = chars.next().expect("caller saw a character");
        let second = chars.next();
        if matches!(first, 'u' | 'U')
            && second == Some('&')
            && matches!(chars.next(), Some('"' | '\''))
        {
            return Err("Unicode-escaped (U&) strings and identifiers are not supported".into());
        }
        if second == Some('\'') {
            match first {
                'e' | 'E' => {
                    self.pos += 1;
                    return Ok(Token::Str(self.escape_string()?));
                }
                'b' | 'B' | 'x' | 'X' => {
                    self.pos += 1;
                    return Ok(Token::Str(self.bit_string()?));
                }
                'n' | 'N' => {
                    self.pos += 1;
                    return Ok(Token::Str(self.quoted_string()?));
                }
                _ => {}
            }
        }
        let text = self.take_while(is_ident_char);
        let text = if self.fold && text.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        };
        Ok(Token::Word {
            text,
            quoted: false,
        })
    }

    /// An operator ends where a comment starts, as in Postgres.
    fn operator(&mut self) -> Token<'a> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let rest = self.rest();
            if !OPERATOR_CHARS.contains(c)
                || (self.pos > start && (rest.starts_with("--") || rest.starts_with("/*")))
            {
                break;
            }
            self.pos += 1;
        }
        Token::Op(&self.src[start..self.pos])
    }
}
