//! A spec, compiled once to check many plans: constants inlined, patterns
//! and conditions converted, regexes checked, and the cache of canonical
//! questions the solver has answered.
//!
//! ```
//! use verifier::CompiledSpec;
//! use planlang::ast::Spec;
//! use planlang::Spanned;
//! let spec = Spec { name: Spanned::synthetic("empty".into()), items: vec![], span: Default::default() };
//! let compiled = CompiledSpec::from_spec(&spec).unwrap();
//! assert!(compiled.effects.is_empty());
//! ```

use planlang::Span;
use planlang::ast::{self, Effect};
use planlang::lower::CondError;
use planlang::lower::Consts;
use planlang::lower::const_value;
use std::collections::HashMap;
use std::sync::Mutex;
use warden_core::action::ConcreteAction;
use warden_core::cond::Pattern;

/// An `allow`, `deny` or `approve` rule.
#[derive(Clone, Debug)]
pub struct EffectRule {
    /// `allow`, `deny` or `approve`.
    pub effect: Effect,
    /// What it matches, constants inlined and shorthand target folded into
    /// the condition.
    pub pattern: Pattern,
    /// The rule in its spec file.
    pub span: Span,
    /// The rule on one line ([`rule_text`]), for messages.
    pub text: String,
}

/// `never A after B` (`first` = A, `second` = B) or `require A before B`
/// (`first` = A, `second` = B).
#[derive(Clone, Debug)]
pub struct OrderRule {
    /// A: the pattern written first.
    pub first: Pattern,
    /// B: the pattern written second.
    pub second: Pattern,
    /// The rule in its spec file.
    pub span: Span,
    /// The rule on one line ([`rule_text`]), for messages.
    pub text: String,
}

/// `at most N PATTERN`.
#[derive(Clone, Debug)]
pub struct CountRule {
    /// N: the most matching actions on any path (a loop counts every
    /// iteration).
    pub limit: u64,
    /// The actions counted.
    pub pattern: Pattern,
    /// The rule in its spec file.
    pub span: Span,
    /// The rule on one line ([`rule_text`]), for messages.
    pub text: String,
}

/// `approve each PATTERN`: at run time, every call it matches waits for a
/// human's approval of that exact call. It grants nothing: the plan check
/// does not consult it; the token carries it when a plan step may match.
#[derive(Clone, Debug)]
pub struct ApproveEachRule {
    /// The calls that wait (always a `call` pattern).
    pub pattern: Pattern,
    /// The rule in its spec file.
    pub span: Span,
    /// The rule on one line ([`rule_text`]), for messages.
    pub text: String,
}

/// How checks run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Bound of every solver call, in milliseconds (a timeout refuses).
    pub timeout_ms: u32,
    /// Canonicalize questions with egg before they reach Z3 (and the cache).
    pub canonicalize: bool,
    /// Reuse answers to equal canonical questions across steps and checks.
    pub cache: bool,
    /// How many spurious witnesses one question may produce before the
    /// verifier gives up with "could not prove".
    pub max_refinements: u32,
    /// Decide questions about single strings, numbers and bools with
    /// automata ([`crate::automata`]) before asking Z3.
    pub automata: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout_ms: 2_000,
            canonicalize: true,
            cache: true,
            max_refinements: 8,
            automata: true,
        }
    }
}

/// A spec ready to check plans. `Send + Sync`: share it between threads.
#[derive(Debug)]
pub struct CompiledSpec {
    /// `spec "NAME"` of the root spec.
    pub name: String,
    /// Constants of the spec being compiled (empty once compiled: they are
    /// inlined into every condition).
    pub consts: Consts,
    /// `allow`, `deny` and `approve` rules, in written order, the root
    /// spec's first (a verdict names its rule by index here).
    pub effects: Vec<EffectRule>,
    /// `never A after B` rules.
    pub never: Vec<OrderRule>,
    /// `require A before B` rules.
    pub require: Vec<OrderRule>,
    /// `at most N` rules.
    pub at_most: Vec<CountRule>,
    /// `approve each` rules.
    pub approve_each: Vec<ApproveEachRule>,
    /// The patterns of every `baseline` block: granted at run time, never
    /// consulted by the plan check.
    pub baseline: Vec<Pattern>,
    /// `max ttl`, in seconds: the smallest of the spec and its includes.
    pub max_ttl: Option<u64>,
    /// How [`CompiledSpec::check`] runs ([`CompiledSpec::check_with`]
    /// takes others).
    pub options: Options,
    /// Answers of the solver by canonical question.
    pub(crate) cache: Mutex<HashMap<String, crate::answer::Answer>>,
    /// Canonical forms of questions, by their raw spelling (egg runs once
    /// per distinct question).
    pub(crate) canon_cache: Mutex<HashMap<String, warden_core::cond::Cond>>,
    /// Params' `where` conditions known satisfiable, with values that meet
    /// them, by the conditions' canonical key.
    pub(crate) where_cache:
        Mutex<HashMap<String, std::collections::BTreeMap<String, warden_core::value::Value>>>,
}

/// Why a spec cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A constant, pattern or condition cannot be lowered (an unknown
    /// constant, a bad regex, a path that is not absolute).
    #[error("{span}: {source}")]
    Cond {
        /// The value or pattern.
        span: Span,
        /// Why it cannot be lowered.
        source: CondError,
    },
    /// A `let` constant has the name of an action field (`path`, `port`).
    #[error("{span}: `let {name}` shadows the field `{name}`")]
    ShadowsField {
        /// The constant's name.
        span: Span,
        /// The name.
        name: String,
    },
    /// Two `let`s of the specs compiled together define one name.
    #[error("{span}: `{name}` is defined twice")]
    DuplicateConst {
        /// The second definition's name.
        span: Span,
        /// The name.
        name: String,
    },
    /// `approve each` with a pattern that is not a `call` pattern.
    #[error(
        "{span}: `approve each` takes a `call` pattern: only tool calls can wait for a human at run time (the kernel layers cannot ask)"
    )]
    ApproveEachNotCall {
        /// The rule.
        span: Span,
    },
}

/// How a concrete action fares against the spec's effect rules, each rule
/// named by its index in [`CompiledSpec::effects`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionVerdict {
    /// Denied by this rule, or (None) because nothing allows it.
    Deny(Option<usize>),
    /// Needs approval: the first `approve` rule that matches (no `deny`
    /// does).
    Approve(usize),
    /// Allowed: the first `allow` rule that matches (no `deny` or `approve`
    /// does).
    Allow(usize),
}

impl CompiledSpec {
    /// Compiles a loaded spec (the root and every file it includes; each
    /// rule sees the constants of its own file).
    pub fn compile(loaded: &planlang::LoadedSpec) -> Result<CompiledSpec, CompileError> {
        let mut out = CompiledSpec::empty(&loaded.root.name.node);
        out.max_ttl = loaded.max_ttl().map(|t| t.node.secs);
        for spec in loaded.specs() {
            let file = spec.span.file.to_string();
            let mut consts = Consts::new();
            for l in spec.lets() {
                let name = &l.name.node;
                let v = loaded.constant(&file, name).unwrap_or(&l.value);
                let v = const_value(&v.node, &consts).map_err(|source| CompileError::Cond {
                    span: l.value.span.clone(),
                    source,
                })?;
                consts.insert(name.clone(), v);
            }
            out.consts = consts;
            for r in spec.rules() {
                out.add_rule(r)?;
            }
            for b in spec.baselines() {
                for p in &b.patterns {
                    let p = out.pattern(p)?;
                    out.baseline.push(p);
                }
            }
        }
        out.consts = Consts::new();
        Ok(out)
    }

    fn empty(name: &str) -> CompiledSpec {
        CompiledSpec {
            name: name.to_string(),
            consts: Consts::new(),
            effects: Vec::new(),
            never: Vec::new(),
            require: Vec::new(),
            at_most: Vec::new(),
            approve_each: Vec::new(),
            baseline: Vec::new(),
            max_ttl: None,
            options: Options::default(),
            cache: Mutex::new(HashMap::new()),
            where_cache: Mutex::new(HashMap::new()),
            canon_cache: Mutex::new(HashMap::new()),
        }
    }

    /// The canonical form of a question (memoized).
    pub fn canonical(&self, c: &warden_core::cond::Cond) -> warden_core::cond::Cond {
        let key = crate::canon::key(c);
        if let Ok(cache) = self.canon_cache.lock()
            && let Some(v) = cache.get(&key)
        {
            return v.clone();
        }
        let v = crate::canon::canonical(c);
        if let Ok(mut cache) = self.canon_cache.lock() {
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(key, v.clone());
        }
        v
    }

    /// Compiles one spec (its `include`s must already be merged in, as
    /// `planlang::load_spec` does, or passed to [`CompiledSpec::from_specs`]).
    pub fn from_spec(spec: &ast::Spec) -> Result<CompiledSpec, CompileError> {
        Self::from_specs(&[spec])
    }

    /// Compiles the rules of several spec files as one spec (a spec and the
    /// files it includes). The first names the spec.
    pub fn from_specs(specs: &[&ast::Spec]) -> Result<CompiledSpec, CompileError> {
        let mut consts = Consts::new();
        for spec in specs {
            for l in spec.lets() {
                let name = &l.name.node;
                if ast::BUILTIN_FIELDS.contains(&name.as_str()) {
                    return Err(CompileError::ShadowsField {
                        span: l.name.span.clone(),
                        name: name.clone(),
                    });
                }
                let v =
                    const_value(&l.value.node, &consts).map_err(|source| CompileError::Cond {
                        span: l.value.span.clone(),
                        source,
                    })?;
                if consts.insert(name.clone(), v).is_some() {
                    return Err(CompileError::DuplicateConst {
                        span: l.name.span.clone(),
                        name: name.clone(),
                    });
                }
            }
        }
        let mut out = CompiledSpec::empty(
            &specs
                .first()
                .map(|s| s.name.node.clone())
                .unwrap_or_default(),
        );
        out.consts = consts;
        for spec in specs {
            if let Some(t) = spec.max_ttl() {
                out.max_ttl = Some(out.max_ttl.map_or(t.node.secs, |m| m.min(t.node.secs)));
            }
            for r in spec.rules() {
                out.add_rule(r)?;
            }
            for b in spec.baselines() {
                for p in &b.patterns {
                    out.baseline.push(out.pattern(p)?);
                }
            }
        }
        Ok(out)
    }

    fn pattern(&self, p: &ast::PatternExpr) -> Result<Pattern, CompileError> {
        planlang::lower::pattern(p, &self.consts).map_err(|source| CompileError::Cond {
            span: p.span.clone(),
            source,
        })
    }

    fn add_rule(&mut self, r: &ast::Rule) -> Result<(), CompileError> {
        let text = rule_text(r);
        match &r.kind {
            ast::RuleKind::Effect { effect, pattern } => {
                let pattern = self.pattern(pattern)?;
                self.effects.push(EffectRule {
                    effect: effect.node,
                    pattern,
                    span: r.span.clone(),
                    text,
                });
            }
            ast::RuleKind::Never { action, after } => {
                let (first, second) = (self.pattern(action)?, self.pattern(after)?);
                self.never.push(OrderRule {
                    first,
                    second,
                    span: r.span.clone(),
                    text,
                });
            }
            ast::RuleKind::Require { first, then } => {
                let (first, second) = (self.pattern(first)?, self.pattern(then)?);
                self.require.push(OrderRule {
                    first,
                    second,
                    span: r.span.clone(),
                    text,
                });
            }
            ast::RuleKind::AtMost { limit, pattern } => {
                let pattern = self.pattern(pattern)?;
                self.at_most.push(CountRule {
                    limit: limit.node,
                    pattern,
                    span: r.span.clone(),
                    text,
                });
            }
            ast::RuleKind::ApproveEach { pattern } => {
                let pattern = self.pattern(pattern)?;
                if pattern.kind != Some(warden_core::vocab::ActionKind::Call) {
                    return Err(CompileError::ApproveEachNotCall {
                        span: r.span.clone(),
                    });
                }
                self.approve_each.push(ApproveEachRule {
                    pattern,
                    span: r.span.clone(),
                    text,
                });
            }
        }
        Ok(())
    }

    /// The verdict of a concrete action: deny beats approve beats allow;
    /// nothing matching is deny.
    pub fn verdict_of(&self, a: &ConcreteAction) -> ActionVerdict {
        let mut approve = None;
        let mut allow = None;
        for (i, r) in self.effects.iter().enumerate() {
            if !r.pattern.kind_matches(a.kind, a.call.as_deref()) {
                continue;
            }
            let later = match r.effect {
                Effect::Deny => false,
                Effect::Approve => approve.is_some(),
                Effect::Allow => allow.is_some() || approve.is_some(),
            };
            if later || !r.pattern.when.eval(a) {
                continue;
            }
            match r.effect {
                Effect::Deny => return ActionVerdict::Deny(Some(i)),
                Effect::Approve => approve = Some(i),
                Effect::Allow => allow = Some(i),
            }
        }
        match (approve, allow) {
            (Some(i), _) => ActionVerdict::Approve(i),
            (None, Some(i)) => ActionVerdict::Allow(i),
            (None, None) => ActionVerdict::Deny(None),
        }
    }

    /// Forgets every cached answer (for measurements).
    pub fn clear_cache(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
        if let Ok(mut c) = self.where_cache.lock() {
            c.clear();
        }
        if let Ok(mut c) = self.canon_cache.lock() {
            c.clear();
        }
    }

    /// How many canonical questions are cached.
    pub fn cached_questions(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// A one-line spelling of a rule, for messages (the source line is shown
/// with a caret where the text is at hand).
pub fn rule_text(r: &ast::Rule) -> String {
    let text = planlang::fmt_rule(r);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
