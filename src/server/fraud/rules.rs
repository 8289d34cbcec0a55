//! Fraud rules: CEL expressions over a typed context (`transaction`, `merchant`, `velocity`, and
//! `in_list(name, value)`), checked when saved and evaluated per transaction.
//!
//! Decision order, as in Stripe Radar: a matching live allow rule wins; else a live block rule;
//! else a live review rule; else the live score rules' sum against the block and review
//! thresholds. A rule that fails at run time is recorded with its error and contributes nothing;
//! shadow rules are evaluated and recorded, never acted on.
use std::collections::BTreeMap;
use std::sync::Arc;

use cel::common::ast::{Expr, IdedExpr, LiteralValue};
use cel::common::types::{CelBool, CelDouble, CelInt, CelString};
use cel::common::value::CowVal;
use cel::context::VariableResolver;
use cel::{Context, Env, Program, Value};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::rule_limits;

/// Types of the context, as far as the checker needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int,
    Double,
    String,
    /// Not known before run time (comprehension variables, some functions).
    Any,
    Object(&'static [(&'static str, Ty)]),
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Double => "double",
            Ty::String => "string",
            Ty::Any => "any",
            Ty::Object(_) => "object",
        }
    }

    fn is_numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Double | Ty::Any)
    }

    fn fits(self, want: Ty) -> bool {
        self == want || self == Ty::Any || want == Ty::Any
    }
}

const TRANSACTION: &[(&str, Ty)] = &[
    ("amount", Ty::Double),
    ("currency", Ty::String),
    ("amount_usd", Ty::Double),
    ("buyer_email", Ty::String),
    ("email_domain", Ty::String),
    ("ip", Ty::String),
    ("ip_country", Ty::String),
    ("card_fingerprint", Ty::String),
    ("card_bin", Ty::String),
    ("card_country", Ty::String),
];

const MERCHANT: &[(&str, Ty)] = &[
    ("age_days", Ty::Int),
    ("country", Ty::String),
    ("risk_state", Ty::String),
    ("verified", Ty::Bool),
    ("lifetime_volume_usd", Ty::Double),
    ("dispute_rate", Ty::Double),
];

/// `velocity.<key>_count_<window>` (int) and `velocity.<key>_sum_usd_<window>` (double) for
/// key ∈ card, email, ip, merchant and window ∈ 1h, 24h, 7d.
const VELOCITY: &[(&str, Ty)] = &[
    ("card_count_1h", Ty::Int),
    ("card_count_24h", Ty::Int),
    ("card_count_7d", Ty::Int),
    ("email_count_1h", Ty::Int),
    ("email_count_24h", Ty::Int),
    ("email_count_7d", Ty::Int),
    ("ip_count_1h", Ty::Int),
    ("ip_count_24h", Ty::Int),
    ("ip_count_7d", Ty::Int),
    ("merchant_count_1h", Ty::Int),
    ("merchant_count_24h", Ty::Int),
    ("merchant_count_7d", Ty::Int),
    ("card_sum_usd_1h", Ty::Double),
    ("card_sum_usd_24h", Ty::Double),
    ("card_sum_usd_7d", Ty::Double),
    ("email_sum_usd_1h", Ty::Double),
    ("email_sum_usd_24h", Ty::Double),
    ("email_sum_usd_7d", Ty::Double),
    ("ip_sum_usd_1h", Ty::Double),
    ("ip_sum_usd_24h", Ty::Double),
    ("ip_sum_usd_7d", Ty::Double),
    ("merchant_sum_usd_1h", Ty::Double),
    ("merchant_sum_usd_24h", Ty::Double),
    ("merchant_sum_usd_7d", Ty::Double),
];

const ROOTS: &[(&str, Ty)] = &[("transaction", Ty::Object(TRANSACTION)), ("merchant", Ty::Object(MERCHANT)), ("velocity", Ty::Object(VELOCITY))];

/// Every field a rule can read, as `root.field` with its type name, in schema order.
pub fn schema_fields() -> Vec<(String, &'static str)> {
    ROOTS
        .iter()
        .flat_map(|(root, ty)| match ty {
            Ty::Object(fields) => fields.iter().map(|(field, ty)| (format!("{root}.{field}"), ty.name())).collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect()
}

/// Every function the checker accepts: (name, signature, result type, help).
pub const SCHEMA_FUNCTIONS: &[(&str, &str, &str, &str)] = &[
    ("in_list", "in_list(list, value)", "bool", "whether a list holds the value (for every merchant, or for this one)"),
    ("contains", "text.contains(part)", "bool", "whether the text contains the part"),
    ("startsWith", "text.startsWith(prefix)", "bool", "whether the text starts with the prefix"),
    ("endsWith", "text.endsWith(suffix)", "bool", "whether the text ends with the suffix"),
    ("size", "size(text)", "int", "the length of a text or a list"),
    ("int", "int(value)", "int", "the value as a whole number"),
    ("double", "double(value)", "double", "the value as a number with a fraction"),
    ("string", "string(value)", "string", "the value as text"),
];

/// A save-time problem, with where it is in the expression (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCheckError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Measures, parses and checks an expression: it is within the bounds of [`rule_limits`] (before
/// the parser sees it), every name and function exists in the context schema, the types fit,
/// and the whole is a boolean.
///
/// What an accepted rule costs to evaluate is bounded too. Its size is ([`rule_limits`]); the
/// facts are scalars and three small objects (no list in them grows with the data), so a
/// comprehension macro (`all`, `exists`, `exists_one`, `map`, `filter`) ranges over a list
/// written in the rule (at most [`rule_limits::MAX_TOKENS`] elements) or one of those
/// objects, and macros may not be nested inside another's body, where their work would
/// multiply: a rule is at most a few hundred thousand steps. `matches` is refused: the `cel`
/// crate compiles its pattern on every evaluation, at a cost the pattern decides.
pub fn check(expression: &str) -> Result<Program, Vec<RuleCheckError>> {
    if expression.trim().is_empty() {
        return Err(vec![RuleCheckError { message: "the expression is empty".into(), line: 1, column: 1 }]);
    }
    rule_limits::check(expression)?;
    on_parser_stack(|| parse_and_check(expression)).unwrap_or_else(|_| {
        Err(vec![RuleCheckError { message: "the rule could not be checked now (no thread for the checker); try again".into(), line: 1, column: 1 }])
    })
}

/// The stack the CEL parser and the checker run on. In a debug build the parser takes about
/// 150 KiB of stack a level of brackets (an ANTLR descent through every rule of the grammar),
/// so [`rule_limits::MAX_NESTING`] levels need about 4 MiB: more than a request's or a tokio
/// worker's 2 MiB, where a server function or a reload would otherwise parse. Reserved, not
/// used: the pages are only touched as deep as the parser goes.
pub const PARSER_STACK_BYTES: usize = 16 << 20;

thread_local! {
    static ON_PARSER_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` on a thread with [`PARSER_STACK_BYTES`] of stack, or right here when this already
/// is one (a whole ruleset is checked on one thread, not one per rule). A panic in `f` goes on
/// in the caller; an error only when no thread could be started.
pub fn on_parser_stack<T: Send>(f: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    if ON_PARSER_STACK.with(std::cell::Cell::get) {
        return Ok(f());
    }
    std::thread::scope(|scope| {
        let checker = std::thread::Builder::new().name("rule-checker".into()).stack_size(PARSER_STACK_BYTES).spawn_scoped(scope, || {
            ON_PARSER_STACK.with(|on| on.set(true));
            f()
        })?;
        Ok(checker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

fn parse_and_check(expression: &str) -> Result<Program, Vec<RuleCheckError>> {
    let program = Program::compile(expression).map_err(|errors| {
        errors
            .errors
            .iter()
            .map(|e| RuleCheckError { message: format!("syntax error: {}", e.msg), line: e.pos.0.max(1) as usize, column: e.pos.1.max(0) as usize + 1 })
            .collect::<Vec<_>>()
    })?;
    let mut checker = Checker { source: expression, program: &program, errors: Vec::new(), locals: Vec::new(), in_macro_body: false };
    let ty = checker.infer(program.expression());
    if checker.errors.is_empty() && !ty.fits(Ty::Bool) {
        let (line, column) = checker.position(program.expression());
        checker.errors.push(RuleCheckError { message: format!("a rule must be true or false, but this expression is a {}", ty.name()), line, column });
    }
    if checker.errors.is_empty() {
        Ok(program)
    } else {
        Err(checker.errors)
    }
}

struct Checker<'a> {
    source: &'a str,
    program: &'a Program,
    errors: Vec<RuleCheckError>,
    /// Variables bound by comprehension macros (`all`, `exists`, …).
    locals: Vec<String>,
    /// Inside a comprehension's body, where another comprehension would run once per element.
    in_macro_body: bool,
}

impl Checker<'_> {
    fn position(&self, node: &IdedExpr) -> (usize, usize) {
        let offset = self.program.source_info().offset_for(node.id).map(|(start, _)| start as usize).unwrap_or(0);
        let before: String = self.source.chars().take(offset).collect();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        (line, column)
    }

    fn error(&mut self, node: &IdedExpr, message: String) -> Ty {
        let (line, column) = self.position(node);
        self.errors.push(RuleCheckError { message, line, column });
        Ty::Any
    }

    fn infer(&mut self, node: &IdedExpr) -> Ty {
        match &node.expr {
            Expr::Ident(name) if self.locals.iter().any(|l| l == name) => Ty::Any,
            Expr::Ident(name) => match ROOTS.iter().find(|(root, _)| root == name) {
                Some((_, ty)) => *ty,
                None => self.error(node, format!("unknown name `{name}`: use transaction, merchant or velocity")),
            },
            Expr::Select(select) if select.test => {
                self.infer(&select.operand);
                Ty::Bool
            }
            Expr::Select(select) => match self.infer(&select.operand) {
                Ty::Object(fields) => match fields.iter().find(|(field, _)| *field == select.field) {
                    Some((_, ty)) => *ty,
                    None => {
                        let path = dotted(&node.expr).unwrap_or_else(|| select.field.clone());
                        self.error(node, format!("unknown field `{path}`"))
                    }
                },
                Ty::Any => Ty::Any,
                other => self.error(node, format!("a {} has no field `{}`", other.name(), select.field)),
            },
            Expr::Literal(literal) => match literal {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Int(_) | LiteralValue::UInt(_) => Ty::Int,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::Bytes(_) | LiteralValue::Null => Ty::Any,
            },
            Expr::List(list) => {
                for element in &list.elements {
                    self.infer(element);
                }
                Ty::Any
            }
            Expr::Call(call) => self.infer_call(node, &call.func_name, call.target.as_deref(), &call.args),
            Expr::Comprehension(comprehension) => {
                if self.in_macro_body {
                    return self.error(
                        node,
                        "a macro (all, exists, exists_one, map, filter) inside another's body would run once per element: \
                         not allowed, as its cost would multiply"
                            .to_string(),
                    );
                }
                self.infer(&comprehension.iter_range);
                self.locals.push(comprehension.iter_var.clone());
                self.locals.extend(comprehension.iter_var2.clone());
                self.locals.push(comprehension.accu_var.clone());
                // The loop condition is the macro's own (`@not_strictly_false`): not the rule's.
                self.in_macro_body = true;
                self.infer(&comprehension.loop_step);
                let result = self.infer(&comprehension.result);
                self.in_macro_body = false;
                self.locals.truncate(self.locals.len() - 2 - usize::from(comprehension.iter_var2.is_some()));
                result
            }
            Expr::Map(_) | Expr::Struct(_) | Expr::Unspecified => Ty::Any,
        }
    }

    fn infer_call(&mut self, node: &IdedExpr, name: &str, target: Option<&IdedExpr>, args: &[IdedExpr]) -> Ty {
        let target_ty = target.map(|t| self.infer(t));
        let tys: Vec<Ty> = args.iter().map(|a| self.infer(a)).collect();
        let want = |this: &mut Self, i: usize, ty: Ty, what: &str| {
            if !tys[i].fits(ty) {
                this.error(&args[i], format!("{what} needs a {}, not a {}", ty.name(), tys[i].name()));
            }
        };
        match (name, tys.len()) {
            ("_&&_" | "_||_", 2) => {
                want(self, 0, Ty::Bool, "`&&`/`||`");
                want(self, 1, Ty::Bool, "`&&`/`||`");
                Ty::Bool
            }
            ("!_", 1) => {
                want(self, 0, Ty::Bool, "`!`");
                Ty::Bool
            }
            ("_==_" | "_!=_", 2) => {
                let comparable = tys[0].fits(tys[1]) || (tys[0].is_numeric() && tys[1].is_numeric());
                if !comparable {
                    self.error(node, format!("cannot compare a {} with a {}", tys[0].name(), tys[1].name()));
                }
                Ty::Bool
            }
            ("_<_" | "_<=_" | "_>_" | "_>=_", 2) => {
                let ordered = (tys[0].is_numeric() && tys[1].is_numeric()) || (tys[0].fits(Ty::String) && tys[1].fits(Ty::String));
                if !ordered {
                    self.error(node, format!("cannot order a {} against a {}", tys[0].name(), tys[1].name()));
                }
                Ty::Bool
            }
            ("_+_", 2) if tys[0] == Ty::String || tys[1] == Ty::String => {
                want(self, 0, Ty::String, "`+` on text");
                want(self, 1, Ty::String, "`+` on text");
                Ty::String
            }
            ("_+_" | "_-_" | "_*_" | "_/_" | "_%_", 2) => self.arithmetic(node, tys[0], tys[1]),
            ("-_", 1) => {
                if !tys[0].is_numeric() {
                    self.error(node, format!("cannot negate a {}", tys[0].name()));
                }
                tys[0]
            }
            ("_?_:_", 3) => {
                want(self, 0, Ty::Bool, "a condition");
                if tys[1].fits(tys[2]) {
                    tys[1]
                } else {
                    Ty::Any
                }
            }
            ("@in", 2) => Ty::Bool,
            ("_[_]", 2) => Ty::Any,
            ("in_list", 2) => {
                want(self, 0, Ty::String, "in_list's list name");
                want(self, 1, Ty::String, "in_list's value");
                Ty::Bool
            }
            ("size", 1) | ("size", 0) => Ty::Int,
            ("matches", _) => self.error(
                node,
                "`matches` is not supported: its pattern would be compiled for every transaction; use contains, startsWith, endsWith or a list".to_string(),
            ),
            ("contains" | "startsWith" | "endsWith", 1) if target_ty.is_some() => {
                if !target_ty.unwrap_or(Ty::Any).fits(Ty::String) {
                    self.error(node, format!("{name} works on text, not on a {}", target_ty.unwrap_or(Ty::Any).name()));
                }
                want(self, 0, Ty::String, name);
                Ty::Bool
            }
            ("int", 1) => Ty::Int,
            ("double", 1) => Ty::Double,
            ("string", 1) => Ty::String,
            _ => self.error(node, format!("unknown function `{name}` with {} argument(s)", tys.len())),
        }
    }

    fn arithmetic(&mut self, node: &IdedExpr, a: Ty, b: Ty) -> Ty {
        match (a, b) {
            (Ty::Any, other) | (other, Ty::Any) if other.is_numeric() => other,
            (Ty::Int, Ty::Int) => Ty::Int,
            (Ty::Double, Ty::Double) => Ty::Double,
            (Ty::Int, Ty::Double) | (Ty::Double, Ty::Int) => {
                self.error(node, "arithmetic mixes int and double: write the number with a decimal point, e.g. 100.0".to_string())
            }
            _ => self.error(node, format!("no arithmetic between a {} and a {}", a.name(), b.name())),
        }
    }
}

fn dotted(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) if !select.test => Some(format!("{}.{}", dotted(&select.operand.expr)?, select.field)),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Review,
    Block,
}

impl Action {
    /// The outcome's name, as the API and the decisions table spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Review => "review",
            Action::Block => "block",
        }
    }
}

/// What a matching rule does: decide, or add to the score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleEffect {
    Action(Action),
    Score(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleMode {
    Live,
    Shadow,
}

pub struct Rule {
    /// Shared with every result of the rule: a decision's results name their rules without a
    /// copy each.
    pub name: Arc<str>,
    /// Why the rule exists, shown with every match.
    pub description: String,
    pub effect: RuleEffect,
    pub mode: RuleMode,
    /// The context fields the expression reads (`velocity.card_count_1h`, …): their values
    /// explain a match.
    pub inputs: Vec<String>,
    program: Program,
}

impl Rule {
    /// A rule whose expression passed [`check`].
    pub fn new(name: &str, expression: &str, effect: RuleEffect, mode: RuleMode) -> Result<Rule, Vec<RuleCheckError>> {
        let program = check(expression)?;
        Ok(Rule { name: name.into(), description: String::new(), effect, mode, inputs: inputs_of(expression), program })
    }

    pub fn with_description(mut self, description: &str) -> Rule {
        self.description = description.to_string();
        self
    }
}

/// The schema paths an expression mentions, in schema order.
fn inputs_of(expression: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (root, ty) in ROOTS {
        let Ty::Object(fields) = ty else { continue };
        for (field, _) in *fields {
            let path = format!("{root}.{field}");
            let mentioned = expression.match_indices(&path).any(|(at, _)| {
                let next = expression[at + path.len()..].chars().next();
                let previous = expression[..at].chars().next_back();
                !next.is_some_and(|c| c.is_alphanumeric() || c == '_') && !previous.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
            });
            if mentioned {
                found.push(path);
            }
        }
    }
    found
}

/// What evaluation sees of one transaction. Read back from a stored decision record to evaluate
/// other rules on the facts a decision saw (a test of a draft, a backtest).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Facts {
    /// Whose transaction: `in_list` also matches entries scoped to this merchant. Not a rule
    /// variable (rules read `merchant.*`), and not in the stored record (the case has it).
    #[serde(skip)]
    pub merchant_id: i32,
    pub transaction: TransactionFacts,
    pub merchant: MerchantFacts,
    /// Every key of the velocity schema; missing keys read as 0. Serialised (into the decision
    /// record) without the keys that are 0.
    #[serde(serialize_with = "nonzero_velocity")]
    pub velocity: BTreeMap<String, serde_json::Value>,
    /// The velocity store could not be read: rules that use `velocity` fail (recorded as
    /// errors) instead of reading zeros.
    #[serde(skip)]
    pub velocity_unavailable: bool,
}

fn nonzero_velocity<S: serde::Serializer>(velocity: &BTreeMap<String, serde_json::Value>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(velocity.iter().filter(|(_, n)| n.as_f64().is_some_and(|n| n != 0.0)))
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TransactionFacts {
    pub amount: f64,
    pub currency: String,
    pub amount_usd: f64,
    pub buyer_email: String,
    pub email_domain: String,
    pub ip: String,
    pub ip_country: String,
    pub card_fingerprint: String,
    pub card_bin: String,
    pub card_country: String,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MerchantFacts {
    pub age_days: i64,
    pub country: String,
    pub risk_state: String,
    pub verified: bool,
    pub lifetime_volume_usd: f64,
    pub dispute_rate: f64,
}

/// Answers `in_list(list, value)`; lists are kept in memory by their owner.
pub trait ListLookup: Send + Sync {
    /// Whether `value` has a live entry in `list` at `now`, for everyone or for this merchant.
    fn contains(&self, list: &str, value: &str, merchant_id: i32, now: DateTime<Utc>) -> bool;
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcome {
    Matched,
    NotMatched,
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    #[serde(serialize_with = "as_str")]
    pub rule: Arc<str>,
    pub mode: RuleMode,
    pub outcome: RuleOutcome,
    /// For a match: the rule's description and the values it read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

fn as_str<S: serde::Serializer>(text: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(text)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub action: Action,
    pub score: f64,
    pub results: Vec<RuleResult>,
}

pub struct Ruleset {
    pub rules: Vec<Rule>,
    pub review_score: f64,
    pub block_score: f64,
    env: Arc<Env>,
}

impl Ruleset {
    pub fn new(rules: Vec<Rule>, review_score: f64, block_score: f64) -> Ruleset {
        Ruleset { rules, review_score, block_score, env: Arc::new(Env::stdlib()) }
    }

    pub fn evaluate(&self, facts: &Facts, lists: Arc<dyn ListLookup>) -> Evaluation {
        // One clock reading for the whole decision: every list is seen as of the same moment.
        let results = match self.context(facts, lists, Utc::now()) {
            Ok(context) => self.rules.iter().map(|rule| run(rule, &context)).collect(),
            Err(e) => self
                .rules
                .iter()
                .map(|rule| RuleResult { rule: rule.name.clone(), mode: rule.mode, outcome: RuleOutcome::Error(e.clone()), explanation: None })
                .collect(),
        };
        let mut evaluation = decide(&self.rules, results, self.review_score, self.block_score);
        explain(&self.rules, &mut evaluation.results, facts);
        evaluation
    }

    /// A stored decision decided again under these rules as of `at`, when it was made (`lists`
    /// answer as they were then). `known[i]` is rule i's stored result where its expression has
    /// not changed since: only the other rules run. No explanations: a replay is counted, not read.
    pub fn replay(&self, facts: &Facts, lists: Arc<dyn ListLookup>, at: DateTime<Utc>, known: Vec<Option<RuleOutcome>>) -> Evaluation {
        let mut context = None;
        let results = self
            .rules
            .iter()
            .zip(known)
            .map(|(rule, known)| {
                let outcome = known.unwrap_or_else(|| match context.get_or_insert_with(|| self.context(facts, lists.clone(), at)) {
                    Ok(context) => run(rule, context).outcome,
                    Err(e) => RuleOutcome::Error(e.clone()),
                });
                RuleResult { rule: rule.name.clone(), mode: rule.mode, outcome, explanation: None }
            })
            .collect();
        decide(&self.rules, results, self.review_score, self.block_score)
    }

    /// The rules' view of one transaction: names answered straight from the facts (no maps are
    /// built per transaction) and `in_list` asked as of `at`.
    fn context<'f>(&self, facts: &'f Facts, lists: Arc<dyn ListLookup>, at: DateTime<Utc>) -> Result<Context<'f, 'f>, String> {
        let mut context = Context::with_env(self.env.clone());
        context.set_variable_resolver(facts);
        let merchant_id = facts.merchant_id;
        context
            .add_function("in_list", move |list: Arc<String>, value: Arc<String>| lists.contains(&list, &value, merchant_id, at))
            .map_err(|e| e.to_string())?;
        Ok(context)
    }
}

/// One value of the context schema, as a rule reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fact<'f> {
    Int(i64),
    Double(f64),
    Bool(bool),
    Text(&'f str),
}

impl Fact<'_> {
    /// As the API and explanations write it: text quoted, numbers as JSON writes them.
    fn json(self) -> serde_json::Value {
        match self {
            Fact::Int(n) => n.into(),
            Fact::Double(x) => x.into(),
            Fact::Bool(b) => b.into(),
            Fact::Text(s) => s.into(),
        }
    }
}

impl Facts {
    /// The value at `root.field`; None outside the schema, and for velocity when it is unavailable.
    fn get(&self, root: &str, field: &str) -> Option<Fact<'_>> {
        let t = &self.transaction;
        let m = &self.merchant;
        Some(match (root, field) {
            ("transaction", "amount") => Fact::Double(t.amount),
            ("transaction", "currency") => Fact::Text(&t.currency),
            ("transaction", "amount_usd") => Fact::Double(t.amount_usd),
            ("transaction", "buyer_email") => Fact::Text(&t.buyer_email),
            ("transaction", "email_domain") => Fact::Text(&t.email_domain),
            ("transaction", "ip") => Fact::Text(&t.ip),
            ("transaction", "ip_country") => Fact::Text(&t.ip_country),
            ("transaction", "card_fingerprint") => Fact::Text(&t.card_fingerprint),
            ("transaction", "card_bin") => Fact::Text(&t.card_bin),
            ("transaction", "card_country") => Fact::Text(&t.card_country),
            ("merchant", "age_days") => Fact::Int(m.age_days),
            ("merchant", "country") => Fact::Text(&m.country),
            ("merchant", "risk_state") => Fact::Text(&m.risk_state),
            ("merchant", "verified") => Fact::Bool(m.verified),
            ("merchant", "lifetime_volume_usd") => Fact::Double(m.lifetime_volume_usd),
            ("merchant", "dispute_rate") => Fact::Double(m.dispute_rate),
            ("velocity", key) if !self.velocity_unavailable => {
                let (_, ty) = VELOCITY.iter().find(|(name, _)| *name == key)?;
                // Keys the store did not return are windows with nothing in them.
                let value = self.velocity.get(key);
                if *ty == Ty::Int {
                    Fact::Int(value.and_then(serde_json::Value::as_i64).unwrap_or(0))
                } else {
                    Fact::Double(value.and_then(serde_json::Value::as_f64).unwrap_or(0.0))
                }
            }
            _ => return None,
        })
    }

    /// A whole root as a CEL map, for the rare expression that uses one as an object
    /// (`has(transaction.ip)`, `merchant['country']`).
    fn root_object(&self, root: &str) -> Option<Value> {
        let Some((_, Ty::Object(fields))) = ROOTS.iter().find(|(name, _)| *name == root) else { return None };
        let object: serde_json::Map<String, serde_json::Value> =
            fields.iter().map(|(field, _)| Some((field.to_string(), self.get(root, field)?.json()))).collect::<Option<_>>()?;
        cel::to_value(object).ok()
    }
}

impl VariableResolver for Facts {
    /// CEL asks for the most qualified name first (`transaction.amount_usd`), so a field is
    /// answered in one step, without building or searching the `transaction` object.
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        match name.split_once('.') {
            Some((root, field)) => Some(match self.get(root, field)? {
                Fact::Int(n) => CowVal::owned(CelInt::from(n)),
                Fact::Double(x) => CowVal::owned(CelDouble::from(x)),
                Fact::Bool(b) => CowVal::owned(CelBool::from(b)),
                Fact::Text(s) => CowVal::owned(CelString::from(s)),
            }),
            None => self.root_object(name)?.try_into().ok().map(CowVal::Owned),
        }
    }
}

fn run(rule: &Rule, context: &Context) -> RuleResult {
    let outcome = match rule.program.execute(context) {
        Ok(Value::Bool(true)) => RuleOutcome::Matched,
        Ok(Value::Bool(false)) => RuleOutcome::NotMatched,
        Ok(other) => RuleOutcome::Error(format!("the rule returned {other:?}, not true or false")),
        Err(e) => RuleOutcome::Error(e.to_string()),
    };
    RuleResult { rule: rule.name.clone(), mode: rule.mode, outcome, explanation: None }
}

/// "Card used 7 times in the last hour — velocity.card_count_1h = 7, transaction.amount_usd = 3.5"
fn explain(rules: &[Rule], results: &mut [RuleResult], facts: &Facts) {
    for (rule, result) in rules.iter().zip(results.iter_mut()) {
        if result.outcome != RuleOutcome::Matched {
            continue;
        }
        let read: Vec<String> = rule
            .inputs
            .iter()
            .map(|path| {
                let value = path.split_once('.').and_then(|(root, field)| facts.get(root, field));
                format!("{path} = {}", value.map_or_else(|| "unknown".to_string(), |v| v.json().to_string()))
            })
            .collect();
        let description = if rule.description.is_empty() { &*rule.name } else { rule.description.as_str() };
        result.explanation = Some(if read.is_empty() { description.to_string() } else { format!("{description} — {}", read.join(", ")) });
    }
}

fn decide(rules: &[Rule], results: Vec<RuleResult>, review_score: f64, block_score: f64) -> Evaluation {
    let live_matches: Vec<&Rule> = rules
        .iter()
        .zip(&results)
        .filter(|(rule, result)| rule.mode == RuleMode::Live && result.outcome == RuleOutcome::Matched)
        .map(|(rule, _)| rule)
        .collect();
    let has = |action: Action| live_matches.iter().any(|r| r.effect == RuleEffect::Action(action));
    let score: f64 = live_matches
        .iter()
        .filter_map(|r| match r.effect {
            RuleEffect::Score(s) => Some(s),
            RuleEffect::Action(_) => None,
        })
        // From +0.0: `sum()` of no f64s is -0.0, which would reach the API as "score": -0.0.
        .fold(0.0, |total, points| total + points);
    let action = if has(Action::Allow) {
        Action::Allow
    } else if has(Action::Block) || score >= block_score {
        Action::Block
    } else if has(Action::Review) || score >= review_score {
        Action::Review
    } else {
        Action::Allow
    };
    Evaluation { action, score, results }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    struct Lists(HashSet<(String, String)>);

    impl ListLookup for Lists {
        fn contains(&self, list: &str, value: &str, _merchant_id: i32, _now: DateTime<Utc>) -> bool {
            self.0.contains(&(list.to_string(), value.to_string()))
        }
    }

    fn lists() -> Arc<dyn ListLookup> {
        Arc::new(Lists([("blocked_emails".to_string(), "fraud@example.com".to_string())].into_iter().collect()))
    }

    fn facts() -> Facts {
        let mut facts = Facts::default();
        facts.transaction.amount_usd = 250.0;
        facts.transaction.buyer_email = "fraud@example.com".into();
        facts.transaction.card_country = "US".into();
        facts.transaction.ip_country = "RO".into();
        facts.merchant.age_days = 3;
        facts.velocity.insert("card_count_1h".into(), serde_json::json!(7));
        facts
    }

    fn rule(name: &str, expression: &str, effect: RuleEffect, mode: RuleMode) -> Rule {
        Rule::new(name, expression, effect, mode).unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }

    #[test]
    fn valid_expressions_pass_the_check() {
        for ok in [
            "transaction.amount_usd > 100.0 && merchant.age_days < 7",
            "velocity.card_count_1h >= 5",
            "in_list('blocked_emails', transaction.buyer_email)",
            "transaction.card_country != transaction.ip_country",
            "transaction.buyer_email.endsWith('@mailinator.com')",
            "transaction.amount_usd > 100",
            "[1, 2].exists(x, x > merchant.age_days)",
        ] {
            assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok).err());
        }
    }

    #[test]
    fn syntax_errors_carry_their_position() {
        let errors = check("transaction.amount_usd > ").unwrap_err();
        assert!(errors[0].message.starts_with("syntax error"), "{errors:?}");
        assert_eq!(errors[0].line, 1);
        assert!(errors[0].column > 1, "{errors:?}");
    }

    #[test]
    fn unknown_fields_names_and_functions_are_named_with_their_position() {
        let errors = check("merchant.age_days > 1 &&\n  transaction.amout > 5.0").unwrap_err();
        assert_eq!(errors[0].message, "unknown field `transaction.amout`");
        assert_eq!(errors[0].line, 2, "{errors:?}");
        assert!(check("customer.age > 1").unwrap_err()[0].message.contains("unknown name `customer`"));
        assert!(check("is_bad(transaction.ip)").unwrap_err()[0].message.contains("unknown function `is_bad`"));
    }

    #[test]
    fn type_mismatches_are_rejected() {
        for (bad, expected) in [
            ("transaction.buyer_email > 5", "cannot order a string against a int"),
            ("merchant.verified == 'yes'", "cannot compare a bool with a string"),
            ("merchant.age_days + 1.5 > 3.0", "mixes int and double"),
            ("transaction.amount_usd", "must be true or false"),
            ("in_list('x', merchant.age_days)", "in_list's value needs a string"),
            ("merchant.country && true", "needs a bool"),
        ] {
            let errors = check(bad).unwrap_err();
            assert!(errors.iter().any(|e| e.message.contains(expected)), "{bad}: {errors:?}");
        }
    }

    #[test]
    fn allow_wins_then_block_then_review() {
        let ruleset = Ruleset::new(
            vec![
                rule("review big", "transaction.amount_usd > 100.0", RuleEffect::Action(Action::Review), RuleMode::Live),
                rule("block listed", "in_list('blocked_emails', transaction.buyer_email)", RuleEffect::Action(Action::Block), RuleMode::Live),
            ],
            50.0,
            80.0,
        );
        assert_eq!(ruleset.evaluate(&facts(), lists()).action, Action::Block);

        let mut with_allow = ruleset;
        with_allow.rules.push(rule("trusted", "merchant.age_days < 30", RuleEffect::Action(Action::Allow), RuleMode::Live));
        let evaluation = with_allow.evaluate(&facts(), lists());
        assert_eq!(evaluation.action, Action::Allow);
        assert!(evaluation.results.iter().all(|r| r.outcome == RuleOutcome::Matched), "all were evaluated and recorded");
    }

    #[test]
    fn scores_add_up_against_the_thresholds() {
        let scored = |points: [f64; 2]| {
            Ruleset::new(
                vec![
                    rule("new merchant", "merchant.age_days < 7", RuleEffect::Score(points[0]), RuleMode::Live),
                    rule("card burst", "velocity.card_count_1h > 5", RuleEffect::Score(points[1]), RuleMode::Live),
                ],
                50.0,
                80.0,
            )
            .evaluate(&facts(), lists())
        };
        assert_eq!(scored([20.0, 20.0]).action, Action::Allow);
        assert_eq!(scored([30.0, 20.0]).action, Action::Review);
        let blocked = scored([40.0, 45.0]);
        assert_eq!((blocked.action, blocked.score), (Action::Block, 85.0));
    }

    #[test]
    fn runtime_errors_are_recorded_and_contribute_nothing() {
        let ruleset = Ruleset::new(
            vec![
                rule("divides by zero", "merchant.age_days / (merchant.age_days - 3) > 0", RuleEffect::Action(Action::Block), RuleMode::Live),
                rule("review foreign card", "transaction.card_country != transaction.ip_country", RuleEffect::Action(Action::Review), RuleMode::Live),
            ],
            50.0,
            80.0,
        );
        let evaluation = ruleset.evaluate(&facts(), lists());
        assert_eq!(evaluation.action, Action::Review);
        assert!(matches!(evaluation.results[0].outcome, RuleOutcome::Error(_)), "{:?}", evaluation.results[0]);
        assert_eq!(evaluation.results[1].outcome, RuleOutcome::Matched);
    }

    #[test]
    fn shadow_rules_are_recorded_never_acted_on() {
        let ruleset = Ruleset::new(vec![rule("shadow block", "transaction.amount_usd > 1.0", RuleEffect::Action(Action::Block), RuleMode::Shadow)], 50.0, 80.0);
        let evaluation = ruleset.evaluate(&facts(), lists());
        assert_eq!(evaluation.action, Action::Allow);
        assert_eq!(
            evaluation.results[0],
            RuleResult {
                rule: "shadow block".into(),
                mode: RuleMode::Shadow,
                outcome: RuleOutcome::Matched,
                explanation: Some("shadow block — transaction.amount_usd = 250.0".into()),
            }
        );
    }

    #[test]
    fn a_match_is_explained_by_the_values_it_read() {
        let ruleset = Ruleset::new(
            vec![rule("card burst", "velocity.card_count_1h >= 5 && transaction.amount_usd > 100.0", RuleEffect::Action(Action::Review), RuleMode::Live)
                .with_description("Card used many times in an hour")],
            50.0,
            80.0,
        );
        let evaluation = ruleset.evaluate(&facts(), lists());
        assert_eq!(
            evaluation.results[0].explanation.as_deref(),
            Some("Card used many times in an hour — transaction.amount_usd = 250.0, velocity.card_count_1h = 7")
        );
    }

    #[test]
    fn without_velocity_the_rules_that_need_it_fail_and_the_others_still_decide() {
        let ruleset = Ruleset::new(
            vec![
                rule("card burst", "velocity.card_count_1h >= 5", RuleEffect::Action(Action::Block), RuleMode::Live),
                rule("big", "transaction.amount_usd > 100.0", RuleEffect::Action(Action::Review), RuleMode::Live),
            ],
            50.0,
            80.0,
        );
        let mut facts = facts();
        facts.velocity_unavailable = true;
        let evaluation = ruleset.evaluate(&facts, lists());
        assert!(matches!(evaluation.results[0].outcome, RuleOutcome::Error(_)), "{:?}", evaluation.results[0]);
        assert_eq!(evaluation.action, Action::Review);
    }

    #[test]
    fn every_field_of_the_schema_is_answered_with_its_type() {
        let facts = facts();
        for (root, ty) in ROOTS {
            let Ty::Object(fields) = ty else { panic!("{root} is not an object") };
            for (field, ty) in *fields {
                let fact = facts.get(root, field).unwrap_or_else(|| panic!("{root}.{field} has no value"));
                let fact_ty = match fact {
                    Fact::Int(_) => Ty::Int,
                    Fact::Double(_) => Ty::Double,
                    Fact::Bool(_) => Ty::Bool,
                    Fact::Text(_) => Ty::String,
                };
                assert_eq!(fact_ty, *ty, "{root}.{field}");
            }
        }
        assert_eq!(facts.get("transaction", "nope"), None);
        assert_eq!(facts.get("nope", "amount"), None);
    }

    #[test]
    fn fields_whole_objects_and_empty_velocity_windows_read_as_the_schema_says() {
        let outcome = |expression: &str, facts: &Facts| {
            let ruleset = Ruleset::new(vec![rule("r", expression, RuleEffect::Score(1.0), RuleMode::Live)], 50.0, 80.0);
            ruleset.evaluate(facts, lists()).results.remove(0).outcome
        };
        let facts = facts();
        for expression in [
            "transaction.ip_country == 'RO' && merchant.age_days == 3 && !merchant.verified",
            "has(transaction.ip_country) && transaction['ip_country'] == 'RO'",
            "merchant['age_days'] == 3 && size(merchant) == 6",
            // Windows the store did not return are empty, typed as the schema says.
            "velocity.ip_count_7d == 0 && velocity.card_sum_usd_1h == 0.0",
            "velocity['card_count_1h'] == 7 && velocity['email_sum_usd_24h'] == 0.0 && size(velocity) == 24",
        ] {
            assert_eq!(outcome(expression, &facts), RuleOutcome::Matched, "{expression}");
        }
        assert_eq!(outcome("transaction.ip_country == 'US'", &facts), RuleOutcome::NotMatched);

        let mut unavailable = facts.clone();
        unavailable.velocity_unavailable = true;
        for expression in ["velocity.ip_count_7d == 0", "has(velocity.ip_count_7d)"] {
            assert!(matches!(outcome(expression, &unavailable), RuleOutcome::Error(_)), "{expression}");
        }
        assert_eq!(outcome("merchant.age_days == 3", &unavailable), RuleOutcome::Matched);
    }

    /// Property: for any token soup, the checker answers (Ok or positioned errors) without
    /// panicking, and whatever it accepts evaluates without panicking.
    #[test]
    fn the_checker_and_evaluator_never_panic_on_arbitrary_input() {
        use rand::{Rng, SeedableRng};
        const TOKENS: &[&str] = &[
            "transaction",
            "merchant",
            "velocity",
            ".",
            "amount_usd",
            "age_days",
            "card_count_1h",
            "buyer_email",
            "verified",
            "in_list",
            "(",
            ")",
            "[",
            "]",
            ",",
            "'blocked_emails'",
            "'x'",
            "1",
            "2.5",
            "0",
            "-",
            "+",
            "*",
            "/",
            "%",
            ">",
            "<",
            ">=",
            "==",
            "!=",
            "&&",
            "||",
            "!",
            "?",
            ":",
            "true",
            "false",
            "null",
            "size",
            "exists",
            "x",
            "in",
            "endsWith",
            "\n",
            " ",
            "\"",
            "'",
            "{",
            "}",
            "unknown",
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
        let ruleset_facts = facts();
        let mut accepted = 0;
        for _ in 0..3_000 {
            let length = rng.random_range(1..14);
            let expression: String = (0..length).map(|_| TOKENS[rng.random_range(0..TOKENS.len())]).collect::<Vec<_>>().join(" ");
            match check(&expression) {
                Ok(_) => {
                    accepted += 1;
                    let ruleset = Ruleset::new(vec![rule("fuzz", &expression, RuleEffect::Score(1.0), RuleMode::Live)], 50.0, 80.0);
                    let evaluation = ruleset.evaluate(&ruleset_facts, lists());
                    assert_eq!(evaluation.results.len(), 1);
                }
                Err(errors) => {
                    assert!(!errors.is_empty());
                    assert!(errors.iter().all(|e| e.line >= 1 && e.column >= 1), "{expression:?}: {errors:?}");
                }
            }
        }
        assert!(accepted > 0, "the generator should produce some valid rules too");
    }

    /// Runs `f` on a thread with a 2 MiB stack, what the test harness's and tokio's worker
    /// threads have: should anything recurse too deep, the stack overflows and the whole test
    /// binary aborts — a failure nothing can catch and miss.
    fn on_a_normal_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new().stack_size(2 * 1024 * 1024).spawn(f).expect("a thread").join().expect("no panic")
    }

    /// An expression of a given shape, `n` levels or terms long: the ways an expression nests.
    fn shaped(shape: usize, n: usize) -> String {
        let wrap = |open: &str, inner: &str, close: &str| format!("{}{inner}{}", open.repeat(n), close.repeat(n));
        match shape {
            0 => wrap("(", "transaction.amount_usd > 1.0", ")"),
            1 => format!("{} == []", wrap("[", "1", "]")),
            2 => format!("{} > 0", wrap("size(", "'x'", ")")),
            3 => format!("{}merchant.verified", "!".repeat(n)),
            4 => format!("{}merchant.age_days > 0", "-".repeat(n)),
            5 => format!("merchant.age_days{} > 0", " + merchant.age_days".repeat(n)),
            6 => format!("transaction{} == 1", ".a".repeat(n)),
            7 => format!("velocity{} == 1", "['x']".repeat(n)),
            8 => format!("{}true", "merchant.verified ? false : ".repeat(n)),
            9 => vec!["merchant.verified"; n.max(1)].join(" || "),
            10 => wrap("[1].all(x, ", "true", ")"),
            11 => format!("size({}) > 0", wrap("{1: ", "1", "}")),
            12 => "(".repeat(n),
            13 => "]".repeat(n),
            14 => format!("'{}' == transaction.ip", "(".repeat(n)),
            15 => format!("merchant.age_days{} > 0", " * 2 - 1".repeat(n)),
            _ => format!("{} == 1", wrap("int(", "merchant.age_days", ")")),
        }
    }
    const SHAPES: usize = 17;

    /// Property: expressions far beyond every bound — thousands of tokens, hundreds and
    /// thousands of levels, in each of the ways an expression nests, and random token soups
    /// of that size — get a clear error naming the bound, on a normal stack: no panic and no
    /// stack overflow (which would abort the test binary).
    #[test]
    fn large_and_deeply_nested_expressions_get_a_clear_error_and_never_overflow_the_stack() {
        on_a_normal_stack(|| {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(26);
            let mut expressions: Vec<String> = Vec::new();
            for shape in 0..SHAPES {
                for n in [100, 300, 1_000, 3_000] {
                    expressions.push(shaped(shape, n));
                }
                for _ in 0..4 {
                    expressions.push(shaped(shape, rng.random_range(33..2_000)));
                }
            }
            const TOKENS: &[&str] = &[
                "transaction.amount_usd",
                "merchant",
                ".",
                "age_days",
                "(",
                ")",
                "[",
                "]",
                "{",
                "}",
                ",",
                "'(x'",
                "1",
                "-",
                "+",
                "*",
                "!",
                ">",
                "==",
                "&&",
                "||",
                "?",
                ":",
                "in",
            ];
            for _ in 0..200 {
                let length = rng.random_range(600..3_000);
                expressions.push((0..length).map(|_| TOKENS[rng.random_range(0..TOKENS.len())]).collect::<Vec<_>>().join(" "));
            }
            let facts = facts();
            let mut refused_by = [0usize; 3];
            for expression in &expressions {
                let measured = rule_limits::measure(expression);
                let over = [
                    expression.len() > rule_limits::MAX_EXPRESSION_BYTES,
                    measured.tokens > rule_limits::MAX_TOKENS,
                    measured.nesting.levels > rule_limits::MAX_NESTING,
                ];
                match check(expression) {
                    Ok(_) => {
                        assert!(!over.contains(&true), "accepted beyond a bound: {measured:?} {expression:.80}");
                        let ruleset = Ruleset::new(vec![rule("big", expression, RuleEffect::Score(1.0), RuleMode::Live)], 50.0, 80.0);
                        assert_eq!(ruleset.evaluate(&facts, lists()).results.len(), 1);
                    }
                    Err(errors) => {
                        assert!(!errors.is_empty() && errors.iter().all(|e| e.line >= 1 && e.column >= 1), "{errors:?}");
                        if over.contains(&true) {
                            let limits = errors.iter().filter(|e| e.message.contains("; the limit is ")).count();
                            assert_eq!(limits, errors.len(), "only the bounds are reported, before parsing: {errors:?}");
                            for (bound, exceeded) in over.iter().enumerate() {
                                refused_by[bound] += usize::from(*exceeded);
                            }
                        }
                    }
                }
            }
            assert!(refused_by.iter().all(|n| *n > 10), "each bound refused some: {refused_by:?}");
        });
    }

    /// The deepest and longest expressions the bounds let through, of every shape, are parsed,
    /// checked and evaluated on a normal stack.
    #[test]
    fn expressions_at_the_bounds_are_checked_and_evaluated_on_a_normal_stack() {
        on_a_normal_stack(|| {
            let facts = facts();
            let fits = |e: &str| {
                let measured = rule_limits::measure(e);
                e.len() <= rule_limits::MAX_EXPRESSION_BYTES
                    && measured.tokens <= rule_limits::MAX_TOKENS
                    && measured.nesting.levels <= rule_limits::MAX_NESTING
            };
            let mut accepted = 0;
            for shape in 0..SHAPES {
                // The largest n that fits: every shape grows with n, in bytes at least.
                let (mut fitting, mut too_big) = (1, rule_limits::MAX_EXPRESSION_BYTES + 1);
                assert!(fits(&shaped(shape, fitting)) && !fits(&shaped(shape, too_big)));
                while too_big - fitting > 1 {
                    let middle = (fitting + too_big) / 2;
                    if fits(&shaped(shape, middle)) {
                        fitting = middle;
                    } else {
                        too_big = middle;
                    }
                }
                let expression = shaped(shape, fitting);
                assert!(check(&shaped(shape, too_big)).is_err(), "one more is refused: shape {shape}");
                if check(&expression).is_ok() {
                    let ruleset = Ruleset::new(vec![rule("at the bound", &expression, RuleEffect::Score(1.0), RuleMode::Live)], 50.0, 80.0);
                    assert_eq!(ruleset.evaluate(&facts, lists()).results.len(), 1);
                    accepted += 1;
                }
            }
            assert!(accepted >= 10, "most shapes are valid rules at their bound ({accepted})");
        });
    }

    #[test]
    fn macros_nested_in_a_macro_body_and_regex_matching_are_refused() {
        let errors = check("[1, 2].exists(x, [3, 4].exists(y, x == y))").unwrap_err();
        assert!(errors[0].message.contains("inside another's body"), "{errors:?}");
        assert!(check("[1, 2].map(x, x * 2).exists(y, y > 2)").is_ok(), "one after another is fine: their work adds up");
        let errors = check("transaction.buyer_email.matches('^a.*$')").unwrap_err();
        assert!(errors[0].message.starts_with("`matches` is not supported"), "{errors:?}");
    }

    /// What the costliest rule the bounds accept costs to evaluate: a comprehension over the
    /// longest list the token bound allows, with the largest body that still fits. Printed, not
    /// asserted (no timed assertions): the bound is in the shape, a few hundred steps squared.
    #[test]
    fn the_costliest_accepted_rule_evaluates() {
        // False for every element: `exists` goes through the whole list.
        let body = vec!["transaction.amount_usd + x < 0.0"; 20].join(" || ");
        let rule_of = |elements: usize| format!("[{}].exists(x, {body})", vec!["1.0"; elements].join(", "));
        let elements = (1..rule_limits::MAX_TOKENS).take_while(|n| check(&rule_of(n + 1)).is_ok()).last().unwrap_or(0) + 1;
        let costliest = rule_of(elements);
        assert!(elements > 100 && elements < rule_limits::MAX_TOKENS / 2, "{elements}");
        let ruleset = Ruleset::new(vec![rule("costly", &costliest, RuleEffect::Score(1.0), RuleMode::Live)], 50.0, 80.0);
        let started = std::time::Instant::now();
        let evaluation = ruleset.evaluate(&facts(), lists());
        let took = started.elapsed();
        assert_eq!(evaluation.results[0].outcome, RuleOutcome::NotMatched);
        eprintln!("{elements} elements × a body of 20 comparisons: evaluated in {took:?}");
    }
}
