//! `warden._native`: Warden's token verification and runtime monitor for
//! Python, in process.
//!
//! Built over the solver-free crates only (`warden-core` and `token`): no
//! solver, no network. A [`Token`] is verified once (signature against a key
//! set, lifetime, revocation list) and then checks every action of its run
//! with the same [`warden_core::monitor`] code the Rust orchestrators and
//! the service use: the run's state (param bindings, `at most` counts,
//! `never`/`require` ordering) lives in the `Token` object.
//!
//! The Python package `warden` re-exports these classes; its `.pyi` stub
//! (clients/python/python/warden/_native.pyi) documents them for type
//! checkers.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use token::paseto::TokenError as RustTokenError;
use token::{
    ConcreteAction, FileRevocations, FixedClock, KeySet, MemoryRevocations, RefusalReason,
    RunState, SystemClock, Timestamp, TokenId, VerifiedToken,
};
use warden_core::claims::Clock;
use warden_core::revocation::{RevocationError, RevocationList};
use warden_core::value::{Field, Number, Value};

create_exception!(
    _native,
    WardenError,
    PyException,
    "The base of every error this package raises."
);
create_exception!(
    _native,
    TokenError,
    WardenError,
    "A token was refused when it was verified."
);
create_exception!(
    _native,
    MalformedToken,
    TokenError,
    "The text is not a well-formed Warden token (PASETO v4.public)."
);
create_exception!(
    _native,
    WrongKey,
    TokenError,
    "The token was signed by a key outside the given key set."
);
create_exception!(
    _native,
    KeyRetired,
    WrongKey,
    "The token was signed by a key the key set marks retired (its message names the key's kid)."
);
create_exception!(
    _native,
    BadSignature,
    TokenError,
    "The signature does not match: the token was altered after it was signed."
);
create_exception!(
    _native,
    TokenExpired,
    TokenError,
    "The token is past its expiry (`exp`)."
);
create_exception!(
    _native,
    TokenNotYetValid,
    TokenError,
    "The token is not valid yet (`nbf`), or its lifetime is empty."
);
create_exception!(
    _native,
    TokenRevoked,
    TokenError,
    "The token, or one it was narrowed from, is on the revocation list."
);
create_exception!(
    _native,
    RevocationUnavailable,
    TokenError,
    "The revocation list could not be read, so the token is refused (fail closed)."
);
create_exception!(
    _native,
    UnreadableClaims,
    TokenError,
    "The signed claims are not Warden's, or of a version this Warden does not read."
);
create_exception!(
    _native,
    InvalidKey,
    WardenError,
    "A public key is neither PASERK `k4.public.` text nor a file holding one."
);
create_exception!(
    _native,
    CallRefused,
    WardenError,
    "Raised by `Verdict.raise_if_refused()`: the action is outside the token's envelope. `.args[0]` is the Verdict."
);

fn token_error(e: RustTokenError) -> PyErr {
    let text = e.to_string();
    match e {
        RustTokenError::Malformed(_) => MalformedToken::new_err(text),
        RustTokenError::WrongKey { .. }
        | RustTokenError::Key(token::KeyChoiceError::Unknown { .. }) => WrongKey::new_err(text),
        RustTokenError::Key(token::KeyChoiceError::Retired { .. }) => KeyRetired::new_err(text),
        RustTokenError::BadSignature => BadSignature::new_err(text),
        RustTokenError::Expired { .. } => TokenExpired::new_err(text),
        RustTokenError::NotYetValid { .. } | RustTokenError::EmptyLifetime { .. } => {
            TokenNotYetValid::new_err(text)
        }
        RustTokenError::Claims(_) => UnreadableClaims::new_err(text),
        RustTokenError::Revoked { .. } => TokenRevoked::new_err(text),
        RustTokenError::Revocation(_) => RevocationUnavailable::new_err(text),
        RustTokenError::Sign(_) => TokenError::new_err(text),
    }
}

/// The clock of a token's checks: the system's, or one the caller sets
/// (tests, replays).
enum TimeSource {
    System,
    Fixed(FixedClock),
}

impl Clock for TimeSource {
    fn now(&self) -> Timestamp {
        match self {
            TimeSource::System => SystemClock.now(),
            TimeSource::Fixed(c) => c.now(),
        }
    }
}

enum RevocationSource {
    Memory(MemoryRevocations),
    File(FileRevocations),
}

impl RevocationList for RevocationSource {
    fn is_revoked(&self, id: &TokenId) -> Result<bool, RevocationError> {
        match self {
            RevocationSource::Memory(m) => m.is_revoked(id),
            RevocationSource::File(f) => f.is_revoked(id),
        }
    }
}

fn token_id(text: &str) -> PyResult<TokenId> {
    TokenId::from_str(text).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// A revocation list: token ids held in memory (`Revocations([...])`,
/// `.revoke(id)`), or the file `warden serve` and `warden tokens revoke`
/// keep (`Revocations.from_file(path)`, re-read when it changes). A token
/// consults it when it is verified and again at every check, so a token
/// revoked mid-run is refused at its next action.
#[pyclass(frozen, module = "warden._native")]
struct Revocations {
    inner: Arc<RevocationSource>,
}

#[pymethods]
impl Revocations {
    #[new]
    #[pyo3(signature = (ids = Vec::new()))]
    fn new(ids: Vec<String>) -> PyResult<Self> {
        let m = MemoryRevocations::default();
        for id in &ids {
            m.revoke(token_id(id)?);
        }
        Ok(Revocations {
            inner: Arc::new(RevocationSource::Memory(m)),
        })
    }

    /// The list kept in `path` (one token id a line, `#` comments).
    #[staticmethod]
    fn from_file(path: std::path::PathBuf) -> PyResult<Self> {
        let f = FileRevocations::open(path)
            .map_err(|e| RevocationUnavailable::new_err(e.to_string()))?;
        Ok(Revocations {
            inner: Arc::new(RevocationSource::File(f)),
        })
    }

    /// Revoke `token_id` (32 lowercase hex digits) in an in-memory list.
    fn revoke(&self, token_id_hex: &str) -> PyResult<()> {
        let id = token_id(token_id_hex)?;
        match &*self.inner {
            RevocationSource::Memory(m) => {
                m.revoke(id);
                Ok(())
            }
            RevocationSource::File(_) => Err(PyValueError::new_err(
                "a file revocation list is changed with `warden tokens revoke`, not from here",
            )),
        }
    }

    /// Whether `token_id` is revoked (raises RevocationUnavailable when the
    /// file cannot be read).
    fn is_revoked(&self, token_id_hex: &str) -> PyResult<bool> {
        let id = token_id(token_id_hex)?;
        self.inner
            .is_revoked(&id)
            .map_err(|e| RevocationUnavailable::new_err(e.to_string()))
    }
}

/// The answer to one check: allowed, or refused with a kind and a reason.
///
/// `bool(verdict)` is `verdict.allowed`. `kind` is `"allowed"` or one of
/// `"envelope"`, `"limit"`, `"never"`, `"require"`, `"revoked"`,
/// `"revocation_unavailable"`, `"expired"`, `"not_yet_valid"`,
/// `"state_mismatch"`; `reason` is the monitor's sentence, and `rule` the
/// `FILE:LINE:COL` of the spec rule behind a `limit`, `never` or `require`
/// refusal.
#[pyclass(frozen, module = "warden._native")]
struct Verdict {
    #[pyo3(get)]
    allowed: bool,
    #[pyo3(get)]
    kind: &'static str,
    #[pyo3(get)]
    reason: Option<String>,
    #[pyo3(get)]
    rule: Option<String>,
}

#[pymethods]
impl Verdict {
    fn __bool__(&self) -> bool {
        self.allowed
    }

    fn __repr__(&self) -> String {
        match &self.reason {
            None => "Verdict(allowed)".to_string(),
            Some(r) => format!("Verdict(refused: {}: {r})", self.kind),
        }
    }

    /// Raise `CallRefused(self)` when the action was refused.
    fn raise_if_refused(slf: Bound<'_, Self>) -> PyResult<()> {
        if slf.get().allowed {
            Ok(())
        } else {
            Err(CallRefused::new_err((slf.unbind(),)))
        }
    }
}

fn verdict(result: Result<token::Allowed, token::Refusal>) -> Verdict {
    let reason = match result {
        Ok(_) => {
            return Verdict {
                allowed: true,
                kind: "allowed",
                reason: None,
                rule: None,
            };
        }
        Err(r) => r.reason,
    };
    let (kind, rule) = match &reason {
        RefusalReason::Revoked { .. } => ("revoked", None),
        RefusalReason::RevocationUnavailable(_) => ("revocation_unavailable", None),
        RefusalReason::Expired { .. } => ("expired", None),
        RefusalReason::NotYetValid { .. } => ("not_yet_valid", None),
        RefusalReason::Envelope(_) => ("envelope", None),
        RefusalReason::Limit { rule, .. } => ("limit", Some(rule.to_string())),
        RefusalReason::Never { rule, .. } => ("never", Some(rule.to_string())),
        RefusalReason::Require { rule, .. } => ("require", Some(rule.to_string())),
        RefusalReason::StateMismatch => ("state_mismatch", None),
        RefusalReason::NeedsApproval { rule, .. } => ("needs_approval", Some(rule.to_string())),
        RefusalReason::DeniedFlow { rule, .. } => ("denied_flow", Some(rule.to_string())),
        RefusalReason::Assumption(v) => ("assumption", Some(v.at.to_string())),
    };
    Verdict {
        allowed: false,
        kind,
        reason: Some(reason.to_string()),
        rule,
    }
}

/// A value that came from a tool's result, for the envelope's
/// `from call TOOL` conditions: `token.check_call("send", to=FromCall(addr, "lookup"))`.
#[pyclass(frozen, module = "warden._native")]
struct FromCall {
    value: Value,
    #[pyo3(get)]
    tool: String,
}

#[pymethods]
impl FromCall {
    #[new]
    fn new(value: &Bound<'_, PyAny>, tool: String) -> PyResult<Self> {
        Ok(FromCall {
            value: to_value(value)?,
            tool,
        })
    }

    fn __repr__(&self) -> String {
        format!("FromCall({}, {:?})", self.value, self.tool)
    }
}

fn number_from_text(text: &str) -> PyResult<Value> {
    Number::from_str(text)
        .or_else(|_| Number::from_scientific(text))
        .map(Value::Number)
        .map_err(|_| PyValueError::new_err(format!("{text} is not a decimal Warden can hold")))
}

/// A Python value as a Warden value: bool, int, float (finite; read as the
/// shortest decimal that round-trips), decimal.Decimal, str, and lists or
/// tuples of these.
fn to_value(ob: &Bound<'_, PyAny>) -> PyResult<Value> {
    if let Ok(s) = ob.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_owned()));
    }
    if let Ok(b) = ob.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if ob.is_instance_of::<PyInt>() {
        let n: i128 = ob.extract().map_err(|_| {
            PyValueError::new_err(format!("{ob} is outside the numbers Warden can hold"))
        })?;
        return Number::try_from_i128_with_scale(n, 0)
            .map(Value::Number)
            .map_err(|_| {
                PyValueError::new_err(format!("{n} is outside the numbers Warden can hold"))
            });
    }
    if let Ok(f) = ob.cast::<PyFloat>() {
        let v = f.value();
        if !v.is_finite() {
            return Err(PyValueError::new_err(format!("{v} is not a number")));
        }
        return number_from_text(&v.to_string());
    }
    if let Ok(l) = ob.cast::<PyList>() {
        return l
            .iter()
            .map(|x| to_value(&x))
            .collect::<PyResult<_>>()
            .map(Value::List);
    }
    if let Ok(t) = ob.cast::<PyTuple>() {
        return t
            .iter()
            .map(|x| to_value(&x))
            .collect::<PyResult<_>>()
            .map(Value::List);
    }
    let ty = ob.get_type();
    if ty.qualname()?.to_str()? == "Decimal" && ty.module()?.to_str()? == "decimal" {
        let text = ob.str()?;
        return number_from_text(text.to_str()?);
    }
    Err(PyTypeError::new_err(format!(
        "an argument must be str, bool, int, float, decimal.Decimal, a list of these, or FromCall; not {}",
        ty.qualname()?
    )))
}

fn to_field(ob: &Bound<'_, PyAny>) -> PyResult<Field> {
    if let Ok(fc) = ob.cast::<FromCall>() {
        let fc = fc.get();
        return Ok(Field::from_call(fc.value.clone(), fc.tool.clone()));
    }
    Ok(Field::new(to_value(ob)?))
}

fn action_error(e: warden_core::action::ActionError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A Warden capability token, verified once: signature against a key set,
/// lifetime, revocation. It then checks every action of one run in process,
/// holding the run's state exactly as the Rust monitor does: the value each
/// param took, how many actions each `at most` limit counted, and which
/// actions the `never`/`require` rules have seen. A refused action changes
/// no state. Thread-safe: checks are serialized on the run's state.
#[pyclass(frozen, module = "warden._native")]
struct Token {
    verified: VerifiedToken,
    key_id: String,
    clock: TimeSource,
    revocations: Arc<RevocationSource>,
    state: Mutex<RunState>,
}

impl Token {
    fn check(&self, action: &ConcreteAction) -> Verdict {
        // A panic while the lock was held cannot leave a half-made state:
        // `check_run` changes the state only on success, at its end.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        verdict(
            self.verified
                .check_run(&mut state, action, &self.clock, &*self.revocations),
        )
    }
}

/// A key set from one key or several: each PASERK `k4.public.…` text, a
/// `warden.pub` file, or a key set file.
fn load_keys(public_keys: &Bound<'_, PyAny>) -> PyResult<KeySet> {
    let keys: Vec<String> = if let Ok(s) = public_keys.cast::<PyString>() {
        vec![s.to_str()?.to_owned()]
    } else {
        public_keys
            .extract()
            .map_err(|_| PyTypeError::new_err("public_keys must be a str or a sequence of str"))?
    };
    if keys.is_empty() {
        return Err(InvalidKey::new_err("the key set is empty"));
    }
    let trimmed: Vec<&str> = keys.iter().map(|k| k.trim()).collect();
    KeySet::load_all(&trimmed).map_err(|e| InvalidKey::new_err(e.to_string()))
}

/// Whether `signature` over `message` was made by a key of `public_keys`
/// (as for Token.verify), in any state: a retired key still verifies the
/// audit history it signed. `kid` picks the key; without one, any key of
/// the set may have signed. The audit log's signed tree heads are checked
/// with it (warden.audit).
#[pyfunction]
#[pyo3(signature = (public_keys, kid, message, signature))]
fn verifies_history(
    public_keys: &Bound<'_, PyAny>,
    kid: Option<&str>,
    message: &[u8],
    signature: &[u8],
) -> PyResult<bool> {
    Ok(load_keys(public_keys)?.verifies_history(kid, message, signature))
}

#[pymethods]
impl Token {
    /// Verify `token` (the `v4.public.…` text `warden issue` or the service
    /// gave) against `public_keys`: one key or several, each PASERK
    /// `k4.public.…` text, a path to a `warden.pub` file, or a path to a key
    /// set file (keys with their states: active, verify-only, retired). The
    /// key whose id the token's footer names is used; a token signed by a
    /// key outside the set raises WrongKey, by a retired key KeyRetired. `revocations` is consulted now and at every
    /// check; `now` (Unix seconds) fixes the clock, for tests and replays,
    /// instead of the system's.
    #[staticmethod]
    #[pyo3(signature = (token, public_keys, *, revocations = None, now = None))]
    fn verify(
        token: &str,
        public_keys: &Bound<'_, PyAny>,
        revocations: Option<&Bound<'_, Revocations>>,
        now: Option<i64>,
    ) -> PyResult<Token> {
        let keys = load_keys(public_keys)?;
        let clock = match now {
            None => TimeSource::System,
            Some(t) => TimeSource::Fixed(FixedClock::new(Timestamp::from_unix(t))),
        };
        let revocations = match revocations {
            Some(r) => r.get().inner.clone(),
            None => Arc::new(RevocationSource::Memory(MemoryRevocations::default())),
        };
        let verified =
            VerifiedToken::verify(token, &keys, &clock, &*revocations).map_err(token_error)?;
        // Verified, so the footer names the key that signed it.
        let key_id = token::paseto::decode_unverified(token)
            .map_err(token_error)?
            .key_id;
        let state = Mutex::new(verified.new_run());
        Ok(Token {
            verified,
            key_id,
            clock,
            revocations,
            state,
        })
    }

    /// Check the tool call `name(**args)` and, when it is allowed, record
    /// it in the run. Arguments: str, bool, int, float, decimal.Decimal,
    /// lists of these, or FromCall for a value from a tool's result.
    #[pyo3(signature = (name, /, **args))]
    fn check_call(&self, name: &str, args: Option<&Bound<'_, PyDict>>) -> PyResult<Verdict> {
        let fields = match args {
            None => Vec::new(),
            Some(d) => d
                .iter()
                .map(|(k, v)| Ok((k.cast::<PyString>()?.to_str()?.to_owned(), to_field(&v)?)))
                .collect::<PyResult<Vec<_>>>()?,
        };
        Ok(self.check(&ConcreteAction::call(name, fields)))
    }

    /// Check a result of the tool `tool` as it arrives, before any later
    /// step uses it, against the plan's assumptions about that tool's
    /// results (`let X = call T(...) where COND`). `result` is what the
    /// tool returned: a dict (its keys are the result's fields), a list, a
    /// str, a number or a bool, as `json.dumps` takes it. A result that
    /// fails an assumption is refused (kind `"assumption"`, `rule` the
    /// place of the condition in the plan) and stops the run: every later
    /// check is refused.
    fn check_result(&self, tool: &str, result: &Bound<'_, PyAny>) -> PyResult<Verdict> {
        let py = result.py();
        let text: String = py
            .import("json")?
            .call_method1("dumps", (result,))?
            .extract()?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| PyValueError::new_err(format!("the result is not JSON: {e}")))?;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Ok(verdict(self.verified.check_result_run(
            &mut state,
            tool,
            &json,
            &self.clock,
            &*self.revocations,
        )))
    }

    /// Check reading the file `path`.
    fn check_read(&self, path: &str) -> PyResult<Verdict> {
        Ok(self.check(&ConcreteAction::read(path).map_err(action_error)?))
    }

    /// Check writing the file `path`.
    fn check_write(&self, path: &str) -> PyResult<Verdict> {
        Ok(self.check(&ConcreteAction::write(path).map_err(action_error)?))
    }

    /// Check deleting the file `path`.
    fn check_delete(&self, path: &str) -> PyResult<Verdict> {
        Ok(self.check(&ConcreteAction::delete(path).map_err(action_error)?))
    }

    /// Check running the program `path` with `argv` (argv[0] included).
    fn check_exec(&self, path: &str, argv: Vec<String>) -> PyResult<Verdict> {
        Ok(self.check(&ConcreteAction::exec(path, &argv).map_err(action_error)?))
    }

    /// Check connecting to `host` (a name or an address) on `port`.
    fn check_connect(&self, host: &str, port: u16) -> PyResult<Verdict> {
        Ok(self.check(&ConcreteAction::connect(host, port).map_err(action_error)?))
    }

    /// Forget the run: the next check starts a new run (params unbound,
    /// counts at zero, nothing seen).
    fn reset(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *state = self.verified.new_run();
    }

    /// Set the fixed clock (Unix seconds). Only for a token verified with
    /// `now=`: a token on the system clock raises ValueError.
    fn set_now(&self, now: i64) -> PyResult<()> {
        match &self.clock {
            TimeSource::Fixed(c) => {
                c.set(Timestamp::from_unix(now));
                Ok(())
            }
            TimeSource::System => Err(PyValueError::new_err(
                "this token checks on the system clock; pass now= to Token.verify to set it",
            )),
        }
    }

    /// The token id (`jti`), 32 hex digits: what a revocation names.
    #[getter]
    fn id(&self) -> String {
        self.verified.claims().jti.to_string()
    }

    /// The PASERK id (`k4.pid.…`) of the key that signed the token.
    #[getter]
    fn key_id(&self) -> &str {
        &self.key_id
    }

    #[getter]
    fn issuer(&self) -> &str {
        &self.verified.claims().iss
    }

    /// The agent the plan names, if any (`sub`).
    #[getter]
    fn agent(&self) -> Option<&str> {
        self.verified.claims().sub.as_deref()
    }

    #[getter]
    fn plan(&self) -> Option<&str> {
        self.verified.claims().plan.as_deref()
    }

    #[getter]
    fn spec(&self) -> Option<&str> {
        self.verified.claims().spec.as_deref()
    }

    /// Issued at, Unix seconds.
    #[getter]
    fn issued_at(&self) -> i64 {
        self.verified.claims().iat.unix()
    }

    /// Not valid before, Unix seconds.
    #[getter]
    fn not_before(&self) -> i64 {
        self.verified.claims().nbf.unix()
    }

    /// Not valid from this instant on, Unix seconds.
    #[getter]
    fn expires_at(&self) -> i64 {
        self.verified.claims().exp.unix()
    }

    /// The ids of the tokens this one was narrowed from, root first.
    #[getter]
    fn ancestors(&self) -> Vec<String> {
        self.verified
            .claims()
            .ancestors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The claims as JSON text (docs/token-format.md).
    #[getter]
    fn claims_json(&self) -> PyResult<String> {
        serde_json::to_string(self.verified.claims())
            .map_err(|e| WardenError::new_err(e.to_string()))
    }

    /// The run's state as JSON text: param bindings, limit counts, ordering.
    #[getter]
    fn run_state_json(&self) -> PyResult<String> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::to_string(&*state).map_err(|e| WardenError::new_err(e.to_string()))
    }

    /// Whether the token is inside its lifetime by its clock now.
    fn is_live(&self) -> bool {
        self.verified.claims().is_live_at(self.clock.now())
    }

    fn __repr__(&self) -> String {
        let c = self.verified.claims();
        format!(
            "Token(id={}, plan={:?}, agent={:?}, expires_at={})",
            c.jti,
            c.plan.as_deref().unwrap_or(""),
            c.sub.as_deref().unwrap_or(""),
            c.exp
        )
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Token>()?;
    m.add_function(wrap_pyfunction!(verifies_history, m)?)?;
    m.add_class::<Verdict>()?;
    m.add_class::<Revocations>()?;
    m.add_class::<FromCall>()?;
    m.add("WardenError", py.get_type::<WardenError>())?;
    m.add("TokenError", py.get_type::<TokenError>())?;
    m.add("MalformedToken", py.get_type::<MalformedToken>())?;
    m.add("WrongKey", py.get_type::<WrongKey>())?;
    m.add("KeyRetired", py.get_type::<KeyRetired>())?;
    m.add("BadSignature", py.get_type::<BadSignature>())?;
    m.add("TokenExpired", py.get_type::<TokenExpired>())?;
    m.add("TokenNotYetValid", py.get_type::<TokenNotYetValid>())?;
    m.add("TokenRevoked", py.get_type::<TokenRevoked>())?;
    m.add(
        "RevocationUnavailable",
        py.get_type::<RevocationUnavailable>(),
    )?;
    m.add("UnreadableClaims", py.get_type::<UnreadableClaims>())?;
    m.add("InvalidKey", py.get_type::<InvalidKey>())?;
    m.add("CallRefused", py.get_type::<CallRefused>())?;
    Ok(())
}
