//! Bounds on a rule's expression, checked before the CEL parser sees it.
//!
//! The parser (the `cel` crate, an ANTLR grammar) and everything after it — the checker, the
//! evaluator, even dropping the tree — recurse once per level of the expression's tree. A deep
//! enough expression overflows the thread's stack, and a stack overflow aborts the whole server,
//! not just the request; the crate's maintainers leave bounding the input to the caller. So an
//! expression is measured here first, in one linear pass over its characters, with no recursion
//! and no allocation beyond one small record per open bracket. The bounds are what make the rest
//! safe: evaluation runs on the request's (or the writer's) 2 MiB stack, and the parser and the
//! checker on a stack of their own sized for the deepest expression the bounds let through
//! ([`super::rules::on_parser_stack`]).
//!
//! - its length in bytes ([`MAX_EXPRESSION_BYTES`]), checked before anything else;
//! - its tokens ([`MAX_TOKENS`]): names, literals, operators and brackets, string literals
//!   (single, triple-quoted, raw, bytes) and `//` comments read as the CEL lexer reads them;
//! - how deep its tree can be ([`MAX_NESTING`]): an upper bound on the depth of the tree the
//!   parser would build, counting brackets *and* operator chains. `a + a + a` nests to the
//!   left, `!!!x` and `x.a.b.c` nest too, one level per operator; `&&` and `||` runs are built
//!   balanced by the parser, so a run of n terms adds only ⌈log₂ n⌉ levels. The bound is
//!   computed bracket group by bracket group: within a group, a chain of operators is as deep
//!   as its operators plus its deepest operand, `&&`/`||` runs and `?:` add their levels on
//!   top, and a group is one operand, a level deeper (two for a map, three for a comprehension
//!   macro), of the group around it — parentheses too: they add no node to the tree, but the
//!   parser descends through every level of the grammar for each.
//!
//! The same checks run when a draft is saved and when a published ruleset is loaded
//! ([`super::rules::check`]), so a rule stored before a limit existed is caught on load too.
//! Their errors carry a line and column, as every other check error does.
use super::rules::RuleCheckError;

/// The longest expression, in bytes. The seeded rules are under 110.
pub const MAX_EXPRESSION_BYTES: usize = 4096;
/// The most tokens in one expression.
pub const MAX_TOKENS: usize = 512;
/// The deepest an expression's tree may be, by the bound described above. The seeded rules are
/// at most 4 deep. Measured in a debug build (the one `make run` and the tests use), each level
/// costs the evaluator about 37 KiB of stack over a base of 90 KiB, so evaluating the deepest
/// rule takes under 1 MiB of a 2 MiB thread; the parser needs about 150 KiB a level of
/// brackets, which is why it runs on a stack of its own ([`super::rules::PARSER_STACK_BYTES`]).
pub const MAX_NESTING: usize = 24;

/// The comprehension macros: each is several levels deep once expanded.
const MACROS: &[&str] = &["all", "exists", "exists_one", "map", "filter"];

/// Checks the expression against the bounds; every bound exceeded is one error.
pub fn check(expression: &str) -> Result<(), Vec<RuleCheckError>> {
    if expression.len() > MAX_EXPRESSION_BYTES {
        let (line, column) = position_of_byte(expression, MAX_EXPRESSION_BYTES);
        let message = format!("the expression is {} bytes; the limit is {}", thousands(expression.len()), thousands(MAX_EXPRESSION_BYTES));
        return Err(vec![RuleCheckError { message, line, column }]);
    }
    let measured = measure(expression);
    let mut errors = Vec::new();
    if measured.tokens > MAX_TOKENS {
        let (line, column) = measured.token_over_limit_at.unwrap_or((1, 1));
        errors.push(RuleCheckError { message: format!("the expression has {} tokens; the limit is {MAX_TOKENS}", thousands(measured.tokens)), line, column });
    }
    if measured.nesting.levels > MAX_NESTING {
        let (line, column) = measured.nesting.at;
        errors.push(RuleCheckError { message: format!("nesting is {} levels deep; the limit is {MAX_NESTING}", measured.nesting.levels), line, column });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What [`measure`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    pub tokens: usize,
    /// Where the token beyond [`MAX_TOKENS`] starts, if there is one.
    pub token_over_limit_at: Option<(usize, usize)>,
    pub nesting: Depth,
}

/// A depth, and the line and column of the operand at the bottom of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    pub levels: usize,
    pub at: (usize, usize),
}

impl Depth {
    fn deeper(self, levels: usize) -> Depth {
        Depth { levels: self.levels + levels, at: self.at }
    }
}

fn deepest(a: Option<Depth>, b: Depth) -> Option<Depth> {
    Some(match a {
        Some(a) if a.levels >= b.levels => a,
        _ => b,
    })
}

/// ⌈log₂ n⌉: the levels a balanced tree over n terms adds.
fn balanced_levels(terms: usize) -> usize {
    if terms <= 1 {
        0
    } else {
        (usize::BITS - (terms - 1).leading_zeros()) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// The whole expression.
    Top,
    /// `( … )` around an expression: no node of its own, but a level of the parser's descent.
    Parens,
    /// `[ … ]` or `{ … }` as a literal: a list or map node, and a map's entries.
    Literal { levels: usize },
    /// `f( … )`, `x[ … ]`, `x.all( … )`: a call, index or macro node over what came before.
    Postfix { levels: usize },
}

/// One bracket group being read: the depth bound of what was read in it so far.
#[derive(Debug)]
struct Frame {
    group: Group,
    /// The chain of operators and operands being read (between `&&`, `||`, `?`, `:`, `,`).
    chain_ops: usize,
    chain_operand: Option<Depth>,
    /// The `&&` run being read: its terms so far, and the deepest.
    and_terms: usize,
    and_deepest: Option<Depth>,
    or_terms: usize,
    or_deepest: Option<Depth>,
    /// `?` and `:` read so far in this argument, and the deepest part between them.
    ternary_ops: usize,
    ternary_deepest: Option<Depth>,
    /// The deepest argument (between `,`) of the group so far.
    deepest: Option<Depth>,
}

impl Frame {
    fn new(group: Group) -> Frame {
        Frame {
            group,
            chain_ops: 0,
            chain_operand: None,
            and_terms: 0,
            and_deepest: None,
            or_terms: 0,
            or_deepest: None,
            ternary_ops: 0,
            ternary_deepest: None,
            deepest: None,
        }
    }

    fn operand(&mut self, depth: Depth) {
        self.chain_operand = deepest(self.chain_operand, depth);
    }

    fn end_chain(&mut self, at: (usize, usize)) {
        if self.chain_ops == 0 && self.chain_operand.is_none() {
            return;
        }
        let operand = self.chain_operand.unwrap_or(Depth { levels: 1, at });
        self.and_deepest = deepest(self.and_deepest, operand.deeper(self.chain_ops));
        self.and_terms += 1;
        (self.chain_ops, self.chain_operand) = (0, None);
    }

    fn end_and(&mut self, at: (usize, usize)) {
        self.end_chain(at);
        if let Some(and) = self.and_deepest {
            self.or_deepest = deepest(self.or_deepest, and.deeper(balanced_levels(self.and_terms)));
            self.or_terms += 1;
        }
        (self.and_terms, self.and_deepest) = (0, None);
    }

    fn end_or(&mut self, at: (usize, usize)) {
        self.end_and(at);
        if let Some(or) = self.or_deepest {
            self.ternary_deepest = deepest(self.ternary_deepest, or.deeper(balanced_levels(self.or_terms)));
        }
        (self.or_terms, self.or_deepest) = (0, None);
    }

    fn end_argument(&mut self, at: (usize, usize)) {
        self.end_or(at);
        if let Some(ternary) = self.ternary_deepest {
            self.deepest = deepest(self.deepest, ternary.deeper(self.ternary_ops));
        }
        (self.ternary_ops, self.ternary_deepest) = (0, None);
    }

    /// The group's depth bound, once it is closed.
    fn close(mut self, at: (usize, usize)) -> Option<Depth> {
        self.end_argument(at);
        self.deepest
    }
}

/// Reads the expression once, left to right: its tokens, and the depth bound of its tree.
pub fn measure(source: &str) -> Measured {
    let chars: Vec<char> = source.chars().collect();
    let mut scan = Scanner { chars: &chars, at: 0, line: 1, column: 1 };
    let mut frames = vec![Frame::new(Group::Top)];
    let (mut tokens, mut token_over_limit_at) = (0usize, None);
    // Whether the token before was an operand or a closing bracket: then `(` and `[` are a
    // call or an index, and `-` is binary (a level either way).
    let mut after_operand = false;
    // The identifier just read, when it is one of the comprehension macros.
    let mut after_macro_name = false;
    while let Some(c) = scan.peek(0) {
        if c.is_whitespace() {
            scan.bump();
            continue;
        }
        if c == '/' && scan.peek(1) == Some('/') {
            while scan.peek(0).is_some_and(|c| c != '\n') {
                scan.bump();
            }
            continue;
        }
        let start = scan.position();
        tokens += 1;
        if tokens == MAX_TOKENS + 1 {
            token_over_limit_at = Some(start);
        }
        let top = frames.last_mut().expect("the top frame is never closed");
        let (mut operand, mut macro_name) = (false, false);
        match c {
            '(' | '[' | '{' => {
                scan.bump();
                let group = match c {
                    '(' | '[' if after_operand => Group::Postfix { levels: if c == '(' && after_macro_name { 3 } else { 1 } },
                    '(' => Group::Parens,
                    '[' => Group::Literal { levels: 1 },
                    _ => Group::Literal { levels: 2 },
                };
                frames.push(Frame::new(group));
            }
            ')' | ']' | '}' => {
                scan.bump();
                if frames.len() > 1 {
                    let frame = frames.pop().expect("more than the top frame");
                    close_into(frames.last_mut().expect("the top frame"), frame, start);
                }
                operand = true;
            }
            ',' => {
                scan.bump();
                top.end_argument(start);
            }
            '?' | ':' => {
                scan.bump();
                top.end_or(start);
                top.ternary_ops += 1;
            }
            '&' | '|' if scan.peek(1) == Some(c) => {
                scan.bump();
                scan.bump();
                if c == '&' {
                    top.end_chain(start);
                } else {
                    top.end_and(start);
                }
            }
            '\'' | '"' | '`' => {
                scan.string(false);
                top.operand(Depth { levels: 1, at: start });
                operand = true;
            }
            c if c.is_ascii_digit() || (c == '.' && !after_operand && scan.peek(1).is_some_and(|d| d.is_ascii_digit())) => {
                scan.number();
                top.operand(Depth { levels: 1, at: start });
                operand = true;
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let word = scan.word();
                if matches!(scan.peek(0), Some('\'' | '"')) && is_string_prefix(&word) {
                    scan.string(word.contains(['r', 'R']));
                    top.operand(Depth { levels: 1, at: start });
                    operand = true;
                } else if word == "in" {
                    top.chain_ops += 1;
                } else {
                    top.operand(Depth { levels: 1, at: start });
                    operand = true;
                    macro_name = MACROS.contains(&word.as_str());
                }
            }
            _ => {
                // Operators: one level each (`.`, `!`, `-`, `+`, `==`, …), read as one token
                // with the `=` that may follow. Anything else the lexer will refuse.
                scan.bump();
                if matches!(c, '=' | '!' | '<' | '>') && scan.peek(0) == Some('=') {
                    scan.bump();
                }
                top.chain_ops += 1;
            }
        }
        after_operand = operand;
        after_macro_name = macro_name;
    }
    let end = scan.position();
    // Brackets left open are closed at the end (the parser will refuse them; the depth still
    // counts, for the message).
    while frames.len() > 1 {
        let frame = frames.pop().expect("more than the top frame");
        close_into(frames.last_mut().expect("the top frame"), frame, end);
    }
    let top = frames.pop().expect("the top frame");
    let nesting = top.close(end).unwrap_or(Depth { levels: 0, at: (1, 1) });
    Measured { tokens, token_over_limit_at, nesting }
}

/// A closed group becomes an operand of the group around it.
fn close_into(outer: &mut Frame, inner: Frame, at: (usize, usize)) {
    let group = inner.group;
    // An empty group (`f()`, `[]`) is a node with nothing below.
    let depth = inner.close(at).unwrap_or(Depth { levels: 0, at });
    match group {
        Group::Top => outer.operand(depth.max_one()),
        Group::Parens => outer.operand(depth.max_one().deeper(1)),
        Group::Literal { levels } => outer.operand(depth.deeper(levels)),
        Group::Postfix { levels } => {
            // Over the chain read so far (the callee, the indexed value): as an operator of it.
            outer.chain_ops += levels;
            outer.operand(depth);
        }
    }
}

impl Depth {
    fn max_one(self) -> Depth {
        Depth { levels: self.levels.max(1), at: self.at }
    }
}

fn is_string_prefix(word: &str) -> bool {
    matches!(word.len(), 1 | 2)
        && word.chars().all(|c| matches!(c, 'r' | 'R' | 'b' | 'B'))
        && word.chars().filter(|c| c.eq_ignore_ascii_case(&'r')).count() <= 1
        && word.chars().filter(|c| c.eq_ignore_ascii_case(&'b')).count() <= 1
}

struct Scanner<'s> {
    chars: &'s [char],
    at: usize,
    line: usize,
    column: usize,
}

impl Scanner<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn position(&self) -> (usize, usize) {
        (self.line, self.column)
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek(0) {
            self.at += 1;
            if c == '\n' {
                (self.line, self.column) = (self.line + 1, 1);
            } else {
                self.column += 1;
            }
        }
    }

    fn word(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek(0).filter(|c| *c == '_' || c.is_ascii_alphanumeric()) {
            word.push(c);
            self.bump();
        }
        word
    }

    /// `123`, `1.5e-3`, `.5`, `0x1F`, `7u`.
    fn number(&mut self) {
        if self.peek(0) == Some('0') && matches!(self.peek(1), Some('x' | 'X')) {
            self.bump();
            self.bump();
            while self.peek(0).is_some_and(|c| c.is_ascii_hexdigit()) {
                self.bump();
            }
        } else {
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
            if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
                while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
            }
            if matches!(self.peek(0), Some('e' | 'E')) {
                let sign = usize::from(matches!(self.peek(1), Some('+' | '-')));
                if self.peek(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                    for _ in 0..=sign {
                        self.bump();
                    }
                    while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                        self.bump();
                    }
                }
            }
        }
        if matches!(self.peek(0), Some('u' | 'U')) {
            self.bump();
        }
    }

    /// A quoted literal from its opening quote: `'…'`, `"…"`, `'''…'''`, `"""…"""`, raw (no
    /// escapes) or not, and `` `…` `` names. A single-line one ends at a line break (the lexer
    /// refuses it); an unterminated one at the end.
    fn string(&mut self, raw: bool) {
        let Some(quote) = self.peek(0) else { return };
        let triple = quote != '`' && self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        let raw = raw || quote == '`';
        for _ in 0..if triple { 3 } else { 1 } {
            self.bump();
        }
        while let Some(c) = self.peek(0) {
            if c == '\\' && !raw {
                self.bump();
                self.bump();
                continue;
            }
            if c == quote && (!triple || (self.peek(1) == Some(quote) && self.peek(2) == Some(quote))) {
                for _ in 0..if triple { 3 } else { 1 } {
                    self.bump();
                }
                return;
            }
            if c == '\n' && !triple {
                return;
            }
            self.bump();
        }
    }
}

/// The 1-based line and column (in characters) of the byte at `offset`.
fn position_of_byte(source: &str, offset: usize) -> (usize, usize) {
    let (mut line, mut column) = (1, 1);
    for (at, c) in source.char_indices() {
        if at >= offset {
            break;
        }
        if c == '\n' {
            (line, column) = (line + 1, 1);
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// `5123` as `5,123`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nesting(expression: &str) -> usize {
        measure(expression).nesting.levels
    }

    #[test]
    fn the_seeded_rules_are_far_inside_the_limits() {
        for rule in crate::server::fraud::default_rules::ruleset().rules {
            let measured = measure(&rule.expression);
            assert!(measured.tokens <= 20 && measured.nesting.levels <= 6, "{}: {measured:?}", rule.expression);
        }
    }

    #[test]
    fn depth_counts_brackets_and_operator_chains() {
        assert_eq!(nesting("x"), 1);
        assert_eq!(nesting("a.b"), 2);
        assert_eq!(nesting("a + b + c"), 3);
        assert_eq!(nesting("!!!x"), 4);
        assert_eq!(nesting("((((x))))"), 5, "parentheses add no node, but the parser descends a level each");
        assert_eq!(nesting("[[[x]]]"), 4, "each list is a node");
        assert_eq!(nesting("f(g(h(x)))"), 4);
        assert_eq!(nesting("a[0][1][2]"), 4, "indexes nest to the left");
        // A run of 16 terms is balanced: 4 levels over its deepest term (`a.b == 1`: 3).
        let run = vec!["a.b == 1"; 16].join(" || ");
        assert_eq!(nesting(&run), 7);
        assert_eq!(nesting("(a + b) * (c + d)"), 4);
        assert_eq!(nesting("x.all(y, y > 1)"), 6, "a macro is three levels (and its `.` one) over its body");
        assert!(nesting("a ? b : c ? d : e") >= 3);
    }

    #[test]
    fn strings_and_comments_hide_brackets_and_operators() {
        assert_eq!(measure("'(((((' + \"]]]\" + r'\\' + '''\n(((\n''' // (((((\n").nesting.levels, 4);
        assert_eq!(measure("'a\\'(' == x").tokens, 3);
        assert_eq!(measure("b\"((\" == x").tokens, 3);
        assert_eq!(measure("`a.b` == x").tokens, 3);
    }

    #[test]
    fn each_bound_is_named_with_its_numbers_and_position() {
        let long = format!("transaction.amount_usd > 1.0 && {}", "x".repeat(5_123 - 32));
        assert_eq!(long.len(), 5_123);
        assert_eq!(
            check(&long).unwrap_err(),
            vec![RuleCheckError { message: "the expression is 5,123 bytes; the limit is 4,096".into(), line: 1, column: 4097 }]
        );
        let deep = format!("{}x{}", "(".repeat(10), ")".repeat(10));
        assert!(check(&deep).is_ok());
        let deep = format!("{}x{}", "[".repeat(65), "]".repeat(65));
        let errors = check(&deep).unwrap_err();
        assert_eq!(errors, vec![RuleCheckError { message: "nesting is 66 levels deep; the limit is 24".into(), line: 1, column: 66 }]);
        let many = vec!["x"; 600].join(" || ");
        let errors = check(&many).unwrap_err();
        assert_eq!(errors[0].message, "the expression has 1,199 tokens; the limit is 512");
        assert_eq!((errors[0].line, errors[0].column), (1, 1 + 5 * 256), "the 513th token");
        let chain = vec!["a"; 40].join("\n+ ");
        let errors = check(&chain).unwrap_err();
        assert_eq!(errors, vec![RuleCheckError { message: "nesting is 40 levels deep; the limit is 24".into(), line: 1, column: 1 }]);
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(4096), "4,096");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
