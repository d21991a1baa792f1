//! Witnesses from Z3 models: the values of a plan's symbols read back
//! from a model, with the blocking clause that excludes them when the
//! concrete check finds the witness spurious.

use super::encode::{SymKind, parse_sym, var_base};
use super::residual::{IP, RAW, sym_name};
use super::scalars::{read_bv128, real_decimal};
use super::session::Session;
use super::strings::read_str;
use crate::answer::Witness;
use crate::cfg::{StepAction, Term};
use ipnet::IpNet;
use planlang::ast::{ActionKind, ParamType};
use warden_core::cond::Cond;
use warden_core::value::Value;
use z3::ast::{BV, Bool, Int, Real};

impl Session {
    pub(super) fn witness(
        &self,
        model: &z3::Model,
        goal: &Cond,
        step: Option<&StepAction>,
        list_bound: u32,
        involved: &std::collections::BTreeSet<String>,
    ) -> (Witness, Vec<Bool>) {
        let mut w = Witness::default();
        let mut block = Vec::new();
        for (name, ty) in &self.params {
            if !involved.contains(name) {
                if let Some(v) = self.base.get(name) {
                    w.params.insert(name.clone(), v.clone());
                }
                continue;
            }
            let base = format!("p!{name}");
            let v = match ty {
                ParamType::Number => {
                    let r = Real::new_const(base.as_str());
                    let e = model.eval(&r, true);
                    let d = e.as_ref().and_then(real_decimal);
                    if let Some(e) = e {
                        block.push(r.eq(e));
                    }
                    d.map(Value::Number)
                }
                ParamType::Bool => {
                    let b = Bool::new_const(base.as_str());
                    let e = model.eval(&b, true);
                    let v = e.as_ref().and_then(|e| e.as_bool());
                    if let Some(e) = e {
                        block.push(b.eq(e));
                    }
                    v.map(Value::Bool)
                }
                ParamType::Host => {
                    let is_ip = Bool::new_const(format!("{base}#isip"));
                    let ip = model.eval(&is_ip, true).and_then(|b| b.as_bool()) == Some(true);
                    if ip {
                        let bv = BV::new_const(format!("{base}#ip"), 128);
                        let e = model.eval(&bv, true);
                        let addr = e.as_ref().and_then(read_bv128);
                        if let Some(e) = e {
                            block.push(bv.eq(e));
                        }
                        addr.map(|a| Value::Cidr(IpNet::from(warden_core::net::unmapped(a))))
                    } else {
                        self.str_val(model, &base, &mut block)
                    }
                }
                ParamType::String | ParamType::Path => self.str_val(model, &base, &mut block),
            };
            if let Some(v) = v {
                w.params.insert(name.clone(), v);
            }
        }
        let mut names = Vec::new();
        goal.refs(&mut names);
        if let Some(step) = step {
            for t in step.fields.values() {
                collect_terms(t, &mut |t| {
                    if let Some(n) = sym_name(RAW, t) {
                        names.push(n)
                    }
                });
            }
        }
        for n in names {
            let Some((_, kind)) = parse_sym(&n) else {
                continue;
            };
            let base = var_base(&kind);
            match kind {
                SymKind::Unknown { name, .. } => {
                    if w.unknowns.contains_key(&name) {
                        continue;
                    }
                    let tag = model
                        .eval(&Int::new_const(format!("{base}#tag")), true)
                        .and_then(|t| t.as_i64());
                    let isip = model
                        .eval(&Bool::new_const(format!("{base}#isip")), true)
                        .and_then(|b| b.as_bool());
                    // An address only where the step has one (a network
                    // connect's target, not a unix socket's path).
                    let v = if isip == Some(true)
                        && step.is_some_and(|s| {
                            s.kind == ActionKind::Connect && s.fields.contains_key(IP)
                        }) {
                        model
                            .eval(&BV::new_const(format!("{base}#ip"), 128), true)
                            .as_ref()
                            .and_then(read_bv128)
                            .map(|a| Value::Cidr(IpNet::from(warden_core::net::unmapped(a))))
                    } else {
                        match tag {
                            Some(1) => model
                                .eval(&Real::new_const(format!("{base}#n")), true)
                                .as_ref()
                                .and_then(real_decimal)
                                .map(Value::Number),
                            Some(2) => model
                                .eval(&Bool::new_const(format!("{base}#b")), true)
                                .and_then(|b| b.as_bool())
                                .map(Value::Bool),
                            _ => self.str_val(model, &format!("{base}#s"), &mut block),
                        }
                    };
                    if let Some(v) = v {
                        w.unknowns.insert(name, v);
                    }
                }
                SymKind::Glob(g) => {
                    if let Some(Value::String(p)) = self.str_val(model, &base, &mut block) {
                        w.globs.insert(g, p);
                    }
                }
                SymKind::AnyList => {
                    if w.argv.is_some() {
                        continue;
                    }
                    let len = model
                        .eval(&Int::new_const(format!("{base}#len")), true)
                        .and_then(|l| l.as_i64())
                        .unwrap_or(0)
                        .clamp(0, list_bound as i64);
                    let mut argv = Vec::new();
                    for i in 0..len {
                        if let Some(Value::String(s)) =
                            self.str_val(model, &format!("{base}#{i}"), &mut block)
                        {
                            argv.push(s);
                        }
                    }
                    w.argv = Some(argv);
                }
                SymKind::Param(_) => {}
            }
        }
        (w, block)
    }

    pub(super) fn str_val(
        &self,
        model: &z3::Model,
        var: &str,
        block: &mut Vec<Bool>,
    ) -> Option<Value> {
        let s = z3::ast::String::new_const(var);
        let e = model.eval(&s, true)?;
        let v = read_str(&e);
        block.push(s.eq(e));
        v.map(Value::String)
    }
}

pub(super) fn collect_terms(t: &Term, f: &mut dyn FnMut(&Term)) {
    match t {
        Term::List(ts) => ts.iter().for_each(|t| collect_terms(t, f)),
        t => f(t),
    }
}
