//! The pages, server-rendered with maud: every string that an agent or a
//! submitter wrote (plan names, goals, arguments, agent names, reasons) is
//! spliced as text, which maud escapes; nothing is spliced as markup.

use crate::highlight::{Class, highlight};
use crate::session::Session;
use maud::{DOCTYPE, Markup, html};
use service::audit::{AuditRecord, VerifyFailure, VerifyReport};
use service::store::{ApprovalRecord, ApprovalState};
use std::collections::BTreeSet;

/// A time in unix ms as RFC 3339 (UTC), or the number if out of range.
pub fn when(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// The plan's name (`plan "NAME"`), if the text starts with one.
pub fn plan_name(plan: &str) -> Option<String> {
    let mut tokens = highlight(plan)
        .into_iter()
        .flatten()
        .filter(|(c, _)| !matches!(c, Class::Space | Class::Comment));
    let (c, t) = tokens.next()?;
    if c != Class::Keyword || t != "plan" {
        return None;
    }
    let (c, t) = tokens.next()?;
    (c == Class::Str).then(|| unquote(&t))
}

fn unquote(s: &str) -> String {
    let inner = s.strip_prefix('"').unwrap_or(s);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The frame of every page.
pub fn layout(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Warden" }
                link rel="stylesheet" href="/static/console.css";
                script src="/static/console.js" defer {}
            }
            body {
                header {
                    span.brand { "Warden approvals" }
                    @if let Some(s) = session {
                        nav {
                            a href="/" { "Pending" }
                            a href="/decided" { "Decided" }
                            a href="/audit" { "Audit log" }
                        }
                        form.signout method="post" action="/logout" {
                            span #whoami { (s.identity.name) " (" (s.identity.role.as_str()) ")" }
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub fn sign_in(csrf: &str, error: Option<&str>) -> Markup {
    html! {
        h1 { "Sign in" }
        p { "Use your approver credential (the secret of an " code { "approver" } " or "
            code { "admin" } " entry of the service's " code { "[[credentials]]" } ")." }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form #signin method="post" action="/login" {
            input type="hidden" name="csrf" value=(csrf);
            label for="secret" { "Credential" }
            input #secret type="password" name="secret" autocomplete="current-password" required autofocus;
            button type="submit" { "Sign in" }
        }
    }
}

/// One row of the pending list (the same shape `console.js` builds from
/// the live updates).
fn pending_row(a: &ApprovalRecord) -> Markup {
    let name = plan_name(&a.plan).unwrap_or_else(|| a.id.clone());
    html! {
        tr data-id=(a.id) {
            td { a.plan-link href={ "/approvals/" (a.id) } { (name) } }
            td.agent { (a.agent) }
            td.spec { (a.spec) }
            td.created { (when(a.created_ms)) }
            td.reasons { ul { @for r in &a.reasons { li { (r) } } } }
        }
    }
}

pub fn pending(list: &[ApprovalRecord]) -> Markup {
    html! {
        h1 { "Pending approvals " span #pending-count { (list.len()) } }
        p #live.muted { "The list updates by itself." }
        table #pending {
            thead { tr { th { "Plan" } th { "Agent" } th { "Spec" } th { "Submitted" } th { "Why a human must look" } } }
            tbody { @for a in list { (pending_row(a)) } }
        }
    }
}

pub fn decided(list: &[ApprovalRecord]) -> Markup {
    html! {
        h1 { "Recent decisions" }
        table #decided {
            thead { tr { th { "Plan" } th { "Agent" } th { "Decision" } th { "By" } th { "Reason" } th { "When" } } }
            tbody {
                @for a in list {
                    tr data-id=(a.id) {
                        td { a href={ "/approvals/" (a.id) } { (plan_name(&a.plan).unwrap_or_else(|| a.id.clone())) } }
                        td { (a.agent) }
                        td.state { (a.state.as_str()) }
                        td { (a.decided_by.as_deref().unwrap_or("")) }
                        td { (a.decision_reason.as_deref().unwrap_or("")) }
                        td { (a.decided_ms.map(when).unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

/// The plan, highlighted, with the lines in `marked` marked and their notes.
pub fn plan_code(plan: &str, marked: &[(u32, String)]) -> Markup {
    let lines: BTreeSet<u32> = marked.iter().map(|(l, _)| *l).collect();
    html! {
        pre.plan { code {
            @for (i, line) in highlight(plan).iter().enumerate() {
                @let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
                span.line.marked[lines.contains(&n)] data-line=(n) {
                    span.ln { (n) }
                    @for (class, text) in line { span class=(class.css()) { (text) } }
                    @for (_, note) in marked.iter().filter(|(l, _)| *l == n) {
                        span.note { (note) }
                    }
                }
            }
        } }
    }
}

fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

pub fn approval(a: &ApprovalRecord, csrf: &str) -> Markup {
    let name = plan_name(&a.plan);
    let notes: Vec<(u32, String)> = a
        .marks
        .iter()
        .filter_map(|m| {
            let at = m.rule_at.as_deref().unwrap_or("spec");
            m.step_line
                .map(|l| (l, format!("needs approval: {} ({at})", m.rule)))
        })
        .collect();
    html! {
        h1 { "Plan " span #plan-name { (name.as_deref().unwrap_or("(unnamed)")) } }
        dl.facts {
            dt { "Approval" } dd #approval-id { (a.id) }
            dt { "Agent" } dd #agent { (a.agent) }
            dt { "Spec" } dd { (a.spec) }
            dt { "Submitted by" } dd #submitted-by { (a.submitted_by.as_deref().unwrap_or("(not recorded)")) }
            dt { "Submitted" } dd { (when(a.created_ms)) }
            dt { "State" } dd #state { (a.state.as_str()) }
            dt { "Run" } dd { a href={ "/audit/runs/" (a.submission_id) } { (a.submission_id) } }
        }
        h2 { "Why a human must look" }
        @if a.marks.is_empty() {
            ul #reasons { @for r in &a.reasons { li { (r) } } }
        } @else {
            table #marks {
                thead { tr { th { "Step (plan line)" } th { "Action" } th { "Rule" } th { "Rule at" } } }
                tbody { @for m in &a.marks {
                    tr {
                        td.step-line { (m.step_line.map(|l| l.to_string()).unwrap_or_default()) }
                        td.action { (m.action) }
                        td.rule { (m.rule) }
                        td.rule-at { (m.rule_at.as_deref().unwrap_or("")) }
                    }
                } }
            }
        }
        h2 { "Plan" }
        (plan_code(&a.plan, &notes))
        h2 { "Envelope the token would carry" }
        pre #envelope { (pretty_json(&a.envelope_json)) }
        h2 { "Decision" }
        @match a.state {
            ApprovalState::Pending => {
                form #decide method="post" action={ "/approvals/" (a.id) "/approve" } {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="reason" { "Reason (recorded in the audit log)" }
                    textarea #reason name="reason" required maxlength="256" rows="3" {}
                    div.buttons {
                        button #approve type="submit" { "Approve and issue the token" }
                        button #deny.danger type="submit" formaction={ "/approvals/" (a.id) "/deny" } { "Deny" }
                    }
                }
            }
            _ => {
                dl.facts #decision {
                    dt { "Decided" } dd.state { (a.state.as_str()) }
                    dt { "By" } dd { (a.decided_by.as_deref().unwrap_or("")) }
                    dt { "Reason" } dd { (a.decision_reason.as_deref().unwrap_or("")) }
                    dt { "When" } dd { (a.decided_ms.map(when).unwrap_or_default()) }
                    @if let Some(t) = &a.token_id { dt { "Token jti" } dd #token-id { (t) } }
                }
            }
        }
    }
}

/// A short description of a record for the log's table.
fn summary(r: &AuditRecord) -> Markup {
    let b = r.body_json();
    let s = |k: &str| b.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    html! {
        @if let Some(sub) = s("submission_id") {
            a href={ "/audit/runs/" (sub) } { (sub) } " "
        }
        @for k in ["agent", "verdict", "state", "token_id", "decided_by", "reason", "layer", "kind", "event", "spec", "status"] {
            @if let Some(v) = s(k) { span.kv { span.k { (k) } "=" (v) } " " }
        }
    }
}

pub fn chain(result: &Result<VerifyReport, VerifyFailure>) -> Markup {
    html! {
        @match result {
            Ok(rep) => {
                div #chain.ok {
                    strong { "Chain verified" }
                    ": " (rep.records) " records, " (rep.checkpoints) " signed checkpoints (last at seq "
                    (rep.last_checkpoint) "), " (rep.uncovered) " records after it. "
                    @if rep.head_signed {
                        "The signed head names the last record: "
                    } @else {
                        "No signed head names the last record yet: "
                    }
                    code #head { (rep.head) }
                }
            }
            Err(f) => {
                div #chain.bad role="alert" {
                    strong { "Chain verification FAILED" } " at record " (f.seq) ": " (f.problem.to_string())
                }
            }
        }
    }
}

pub fn audit(records: &[AuditRecord], chain_status: Markup) -> Markup {
    html! {
        h1 { "Audit log" }
        (chain_status)
        table #audit {
            thead { tr { th { "Seq" } th { "Time" } th { "Kind" } th { "What" } } }
            tbody { @for r in records {
                tr { td { (r.seq) } td { (when(r.time_ms)) } td { (r.kind) } td { (summary(r)) } }
            } }
        }
    }
}

/// A run: the records of one submission and of the tokens issued for it.
pub struct Run<'a> {
    pub submission_id: &'a str,
    pub records: &'a [AuditRecord],
    pub enforcement: &'a [AuditRecord],
}

pub fn run(r: &Run<'_>) -> Markup {
    let find = |kind: &str| {
        r.records
            .iter()
            .find(|x| x.kind == kind)
            .map(|x| x.body_json())
    };
    let submission = find("submission");
    let verdict = find("verdict");
    let plan = submission
        .as_ref()
        .and_then(|b| b.get("plan").and_then(|p| p.as_str()).map(str::to_owned));
    let counterexamples: Vec<serde_json::Value> = verdict
        .as_ref()
        .and_then(|v| v.get("counterexamples").and_then(|c| c.as_array()).cloned())
        .unwrap_or_default();
    let tokens: Vec<String> = r
        .records
        .iter()
        .filter(|x| x.kind == "token")
        .filter_map(|x| {
            x.body_json()
                .get("token_id")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        })
        .collect();
    let field = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .map(|x| match x.as_str() {
                Some(s) => s.to_owned(),
                None => x.to_string(),
            })
            .unwrap_or_default()
    };
    let (kernel, calls): (Vec<_>, Vec<_>) = r
        .enforcement
        .iter()
        .map(AuditRecord::body_json)
        .filter(|b| field(b, "kind") != "allowed")
        .partition(|b| field(b, "layer") != "check_action");
    html! {
        h1 { "Run " (r.submission_id) }
        @if r.records.is_empty() { p { "No record names this submission." } }
        dl.facts {
            @if let Some(s) = &submission {
                dt { "Agent" } dd { (field(s, "agent")) }
                dt { "Spec" } dd { (field(s, "spec")) " " code { (field(s, "spec_hash")) } }
                dt { "Submitted by" } dd { (field(s, "submitted_by")) }
            }
            @if let Some(v) = &verdict { dt { "Verdict" } dd #verdict { (field(v, "verdict")) } }
            @for t in &tokens { dt { "Token jti" } dd.jti { (t) } }
        }
        @if let Some(p) = &plan { h2 { "Plan" } (plan_code(p, &[])) }
        @if !counterexamples.is_empty() {
            h2 { "Counterexamples" }
            table #counterexamples {
                thead { tr { th { "Reason" } th { "Rule" } th { "Rule at" } th { "Step" } th { "Witness" } } }
                tbody { @for c in &counterexamples {
                    tr {
                        td { (field(c, "reason")) ": " (field(c, "message")) }
                        td { (field(c, "rule")) }
                        td { (field(c, "rule_at")) }
                        td { (field(c, "step")) }
                        td { (c.get("witness").map(|w| w.to_string()).unwrap_or_default()) }
                    }
                } }
            }
        }
        h2 { "Decisions" }
        ul { @for x in r.records.iter().filter(|x| x.kind == "approval") {
            @let b = x.body_json();
            li { (when(x.time_ms)) ": " (field(&b, "state")) " " (field(&b, "decided_by")) " " (field(&b, "reason")) }
        } }
        h2 { "Kernel refusals" }
        (events_table("kernel", &kernel))
        h2 { "Tool-call refusals" }
        (events_table("calls", &calls))
    }
}

fn events_table(id: &str, events: &[serde_json::Value]) -> Markup {
    html! {
        @if events.is_empty() { p.muted { "None." } } @else {
            table id=(id) {
                thead { tr { th { "Layer" } th { "Kind" } th { "Detail" } } }
                tbody { @for e in events {
                    tr {
                        td { (e.get("layer").and_then(|v| v.as_str()).unwrap_or("")) }
                        td { (e.get("kind").and_then(|v| v.as_str()).unwrap_or("")) }
                        td { code { (e.get("reason").or_else(|| e.get("detail")).map(|v| v.to_string()).unwrap_or_default()) } }
                    }
                } }
            }
        }
    }
}

pub fn message(title: &str, text: &str) -> Markup {
    html! {
        h1 { (title) }
        p.error role="alert" { (text) }
        p { a href="/" { "Back to the pending approvals" } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_names_are_read_from_the_text() {
        assert_eq!(
            plan_name("// x\nplan \"a\\\"b\" {}").as_deref(),
            Some("a\"b")
        );
        assert_eq!(plan_name("agent \"x\""), None);
        assert_eq!(plan_name("plan {"), None);
    }

    #[test]
    fn plan_text_is_escaped_in_the_highlighted_code() {
        let html = plan_code(
            "plan \"<img src=x onerror=alert(1)>\" {}",
            &[(1, "<b>".into())],
        )
        .into_string();
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;"), "{html}");
        assert!(html.contains("class=\"line marked\""), "{html}");
    }
}
