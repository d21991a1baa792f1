//! The plan's control-flow graph as a petgraph graph, and the path
//! questions of temporal and count rules answered over it.
//!
//! Nodes: an entry, an exit, one node per action step, a fork and a join per
//! `either`, a head and a tail per `repeat`. Edges: sequence (`Next`), a
//! `Branch` from a fork into each branch and a `Merge` from each branch into
//! its join, `Enter` from a loop head into its body, `Back` from a loop's
//! tail to its head, and `Skip` from the head to the tail when the loop may
//! run zero times (`repeat at most N`, `repeat 0`).
//!
//! Every path question is one dynamic program over the nodes in topological
//! order of the forward edges (every edge but `Back`), with each loop region
//! collapsed into its head and tail: the summary of the paths through the
//! body is computed once and then repeated by [`PathQuestion::repeat`]
//! (`at most` multiplies counts; `never`/`require` need at most two
//! iterations to show a violation). So a question costs time linear in the
//! plan, never the number of its paths. The reference evaluator instead walks
//! the graph edge by edge, `Back` edges included, one path at a time.

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use planlang::Span;
use std::rc::Rc;

/// A node of the control-flow graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfgNode {
    /// Where every path starts, before the first step.
    Entry,
    /// Where every path ends, after the last step.
    Exit,
    /// The action step with this index in [`super::Lowered::steps`].
    Step(usize),
    /// Where an `either` splits into its branches.
    Fork {
        /// The `either` step.
        span: Span,
    },
    /// Where the branches of an `either` meet again.
    Join,
    /// The start of a `repeat` region; `tail` closes it.
    LoopHead {
        /// `N` of `repeat N`.
        count: u64,
        /// `repeat at most N`: the body may run zero times.
        at_most: bool,
        /// The `repeat` step.
        span: Span,
        /// The region's [`CfgNode::LoopTail`].
        tail: NodeIndex,
    },
    /// The end of a `repeat` region opened by `head`.
    LoopTail {
        /// The region's [`CfgNode::LoopHead`].
        head: NodeIndex,
    },
}

/// An edge of the control-flow graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CfgEdge {
    /// One step after another.
    Next,
    /// From a fork into branch `index` (counting from 1).
    Branch {
        /// The branch, counting from 1.
        index: usize,
    },
    /// From the end of branch `index` into its join.
    Merge {
        /// The branch, counting from 1.
        index: usize,
    },
    /// From a loop head into the first node of its body.
    Enter,
    /// From a loop tail back to its head: the next iteration.
    Back,
    /// From a loop head to its tail: zero iterations.
    Skip,
}

impl CfgEdge {
    /// Forward edges order a node's predecessors: branch order first.
    fn order(self) -> usize {
        match self {
            CfgEdge::Branch { index } | CfgEdge::Merge { index } => index,
            _ => 0,
        }
    }
}

/// One element of a path through the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathElem {
    /// The action step with this index.
    Step(usize),
    /// The branch taken at an `either` (counting from 1).
    Branch {
        /// The `either` step.
        span: Span,
        /// The branch, counting from 1.
        index: usize,
    },
    /// Iterations of a `repeat` (the body's path follows, once).
    Iterations {
        /// The `repeat` step.
        span: Span,
        /// How many times the body runs on this path.
        count: u64,
    },
}

/// A path, or a prefix of one.
pub type Path = Vec<PathElem>;

/// A walk of every path gave up: a path or the walk is too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the plan's paths are too many or too long to walk one by one")]
pub struct TooLong;

/// The control-flow graph of a plan.
#[derive(Clone, Debug)]
pub struct Cfg {
    graph: DiGraph<CfgNode, CfgEdge>,
    entry: NodeIndex,
    exit: NodeIndex,
    /// Every node but the entry, in topological order of the forward edges.
    order: Vec<NodeIndex>,
}

/// Builds a [`Cfg`] while a plan is lowered, in program order.
pub(crate) struct CfgBuilder {
    graph: DiGraph<CfgNode, CfgEdge>,
    entry: NodeIndex,
}

/// Where the next node attaches: after `node`, by an edge of kind `edge`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor {
    node: NodeIndex,
    edge: CfgEdge,
}

impl CfgBuilder {
    pub(crate) fn new() -> (Self, Cursor) {
        let mut graph = DiGraph::new();
        let entry = graph.add_node(CfgNode::Entry);
        (
            CfgBuilder { graph, entry },
            Cursor {
                node: entry,
                edge: CfgEdge::Next,
            },
        )
    }

    fn attach(&mut self, at: Cursor, node: CfgNode) -> NodeIndex {
        let n = self.graph.add_node(node);
        self.graph.add_edge(at.node, n, at.edge);
        n
    }

    /// An action step after `at`.
    pub(crate) fn step(&mut self, at: Cursor, i: usize) -> Cursor {
        Cursor {
            node: self.attach(at, CfgNode::Step(i)),
            edge: CfgEdge::Next,
        }
    }

    /// Opens an `either` after `at`: the fork, from which each branch
    /// starts at [`CfgBuilder::branch`].
    pub(crate) fn fork(&mut self, at: Cursor, span: Span) -> NodeIndex {
        self.attach(at, CfgNode::Fork { span })
    }

    /// Where branch `k` (counting from 0) of a fork starts.
    pub(crate) fn branch(fork: NodeIndex, k: usize) -> Cursor {
        Cursor {
            node: fork,
            edge: CfgEdge::Branch { index: k + 1 },
        }
    }

    /// Closes an `either`: the ends of its branches, in order, meet.
    pub(crate) fn join(&mut self, fork: NodeIndex, ends: &[Cursor]) -> Cursor {
        let join = self.graph.add_node(CfgNode::Join);
        if ends.is_empty() {
            self.graph.add_edge(fork, join, CfgEdge::Next);
        }
        for (k, end) in ends.iter().enumerate() {
            // An empty branch goes straight from the fork, a branch edge.
            let edge = match end.edge {
                CfgEdge::Branch { .. } => end.edge,
                _ => CfgEdge::Merge { index: k + 1 },
            };
            self.graph.add_edge(end.node, join, edge);
        }
        Cursor {
            node: join,
            edge: CfgEdge::Next,
        }
    }

    /// Opens a `repeat` after `at`: the head, and where its body starts.
    pub(crate) fn loop_head(
        &mut self,
        at: Cursor,
        count: u64,
        at_most: bool,
        span: Span,
    ) -> (NodeIndex, Cursor) {
        let head = self.attach(
            at,
            CfgNode::LoopHead {
                count,
                at_most,
                span,
                tail: NodeIndex::end(),
            },
        );
        (
            head,
            Cursor {
                node: head,
                edge: CfgEdge::Enter,
            },
        )
    }

    /// Closes a `repeat` whose body ends at `end`.
    pub(crate) fn loop_tail(&mut self, head: NodeIndex, end: Cursor) -> Cursor {
        let tail = self.attach(end, CfgNode::LoopTail { head });
        self.graph.add_edge(tail, head, CfgEdge::Back);
        if let CfgNode::LoopHead {
            count,
            at_most,
            tail: t,
            ..
        } = &mut self.graph[head]
        {
            *t = tail;
            if *at_most || *count == 0 {
                self.graph.add_edge(head, tail, CfgEdge::Skip);
            }
        }
        Cursor {
            node: tail,
            edge: CfgEdge::Next,
        }
    }

    /// The graph, once the plan's last step attached at `end`.
    pub(crate) fn finish(mut self, end: Cursor) -> Cfg {
        let exit = self.attach(end, CfgNode::Exit);
        // Nodes are added in program order and every forward edge goes from
        // an older node to a newer one, so index order is topological.
        let order = self
            .graph
            .node_indices()
            .filter(|&n| n != self.entry)
            .collect();
        Cfg {
            graph: self.graph,
            entry: self.entry,
            exit,
            order,
        }
    }
}

/// A question about the paths of a plan, as an algebra of path summaries:
/// a summary describes a set of paths through a region of the graph, with
/// witness paths for what the question looks for. [`Cfg::solve`] combines
/// them over the graph.
pub trait PathQuestion {
    /// A summary of a set of paths.
    type Sum: Clone;
    /// The empty path.
    fn empty(&self) -> Self::Sum;
    /// The path that performs step `i`.
    fn step(&self, i: usize) -> Self::Sum;
    /// A path that records a branch choice and performs nothing.
    fn mark(&self, e: PathElem) -> Self::Sum;
    /// The paths of `a` followed by those of `b`.
    fn then(&self, a: &Self::Sum, b: &Self::Sum) -> Self::Sum;
    /// The paths of `a` or of `b`; witnesses of `a` are preferred.
    fn or(&self, a: Self::Sum, b: &Self::Sum) -> Self::Sum;
    /// `count` iterations of the paths of `body` (0 to `count` when
    /// `at_most`).
    fn repeat(&self, body: &Self::Sum, count: u64, at_most: bool, span: &Span) -> Self::Sum;
}

impl Cfg {
    /// The petgraph graph itself.
    pub fn graph(&self) -> &DiGraph<CfgNode, CfgEdge> {
        &self.graph
    }

    /// The [`CfgNode::Entry`] node.
    pub fn entry(&self) -> NodeIndex {
        self.entry
    }

    /// The [`CfgNode::Exit`] node.
    pub fn exit(&self) -> NodeIndex {
        self.exit
    }

    /// Answers a path question for the paths from the entry to the exit:
    /// one pass over the nodes in topological order, a loop's body
    /// summarized between its head and tail and repeated there.
    pub fn solve<Q: PathQuestion>(&self, q: &Q) -> Q::Sum {
        let n = self.graph.node_count();
        let mut sums: Vec<Option<Q::Sum>> = vec![None; n];
        sums[self.entry.index()] = Some(q.empty());
        let mut preds: Vec<(usize, usize, NodeIndex, CfgEdge)> = Vec::new();
        for &v in &self.order {
            preds.clear();
            preds.extend(
                self.graph
                    .edges_directed(v, Direction::Incoming)
                    .filter(|e| !matches!(e.weight(), CfgEdge::Back | CfgEdge::Skip))
                    .map(|e| (e.weight().order(), e.id().index(), e.source(), *e.weight())),
            );
            preds.sort_unstable_by_key(|p| (p.0, p.1));
            let mut acc: Option<Q::Sum> = None;
            for &(_, _, u, e) in &preds {
                let from_u = match e {
                    // A loop body's summaries start at its head.
                    CfgEdge::Enter => q.empty(),
                    CfgEdge::Branch { index } => {
                        let span = match &self.graph[u] {
                            CfgNode::Fork { span } => span.clone(),
                            _ => Span::default(),
                        };
                        let mark = q.mark(PathElem::Branch { span, index });
                        match &sums[u.index()] {
                            Some(s) => q.then(s, &mark),
                            None => continue,
                        }
                    }
                    _ => match &sums[u.index()] {
                        Some(s) => s.clone(),
                        None => continue,
                    },
                };
                acc = Some(match acc {
                    None => from_u,
                    Some(a) => q.or(a, &from_u),
                });
            }
            let Some(acc) = acc else { continue };
            let sum = match &self.graph[v] {
                CfgNode::Step(i) => q.then(&acc, &q.step(*i)),
                CfgNode::LoopTail { head } => match (&self.graph[*head], &sums[head.index()]) {
                    (
                        CfgNode::LoopHead {
                            count,
                            at_most,
                            span,
                            ..
                        },
                        Some(before),
                    ) => q.then(before, &q.repeat(&acc, *count, *at_most, span)),
                    _ => continue,
                },
                _ => acc,
            };
            sums[v.index()] = Some(sum);
        }
        sums[self.exit.index()].take().unwrap_or_else(|| q.empty())
    }

    /// Which steps some path performs (a step inside `repeat 0` never
    /// runs): a walk of the forward edges from the entry that does not
    /// enter the body of a loop run zero times.
    pub fn reachable(&self, n_steps: usize) -> Vec<bool> {
        let mut out = vec![false; n_steps];
        let mut seen = vec![false; self.graph.node_count()];
        let mut stack = vec![self.entry];
        seen[self.entry.index()] = true;
        while let Some(v) = stack.pop() {
            if let CfgNode::Step(i) = self.graph[v]
                && i < n_steps
            {
                out[i] = true;
            }
            for e in self.graph.edges(v) {
                let blocked = match e.weight() {
                    CfgEdge::Back => true,
                    CfgEdge::Enter => {
                        matches!(self.graph[v], CfgNode::LoopHead { count: 0, .. })
                    }
                    _ => false,
                };
                if !blocked && !seen[e.target().index()] {
                    seen[e.target().index()] = true;
                    stack.push(e.target());
                }
            }
        }
        out
    }

    /// A path from the start of the plan to step `i` (branch choices and
    /// loop entries on the way), if some path reaches it.
    pub fn path_to(&self, i: usize) -> Option<Path> {
        self.solve(&PathTo(i)).to.map(|t| t.to_path())
    }

    /// How many paths lead from the entry to the exit (saturating): each
    /// branch choice and each iteration count of a `repeat at most` makes
    /// its own. One pass, whatever the count; what a walk of every path
    /// ([`Cfg::walk_paths`]) would face, known before it starts.
    pub fn path_count(&self) -> u64 {
        self.solve(&CountPaths)
    }

    /// The largest number of steps for which `counts` holds on one path
    /// (loops count every iteration; saturating), and a path that reaches
    /// it.
    pub fn max_count(&self, counts: &dyn Fn(usize) -> bool) -> (u64, Path) {
        let (n, trail) = self.solve(&MaxCount(counts));
        (n, trail.to_path())
    }

    /// A path on which a step that may be `A` follows a step that may be
    /// `B` (`never A after B` fails), if there is one. The path ends at the
    /// `A`.
    pub fn never_after(
        &self,
        may_a: &dyn Fn(usize) -> bool,
        may_b: &dyn Fn(usize) -> bool,
    ) -> Option<Path> {
        self.solve(&NeverAfter { may_a, may_b })
            .viol
            .map(|t| t.to_path())
    }

    /// A path on which a step that may be `B` is reached before any step
    /// that must be `A` (`require A before B` fails), if there is one.
    pub fn require_before(
        &self,
        must_a: &dyn Fn(usize) -> bool,
        may_b: &dyn Fn(usize) -> bool,
    ) -> Option<Path> {
        self.solve(&RequireBefore { must_a, may_b })
            .viol
            .map(|t| t.to_path())
    }

    /// Walks every path from the entry to the exit edge by edge (loops
    /// unrolled through their `Back` edges), calling `visit` with the steps
    /// of each. Stops with an error when a path would perform more than
    /// `max_len` steps or the walk would take more than `max_moves` moves
    /// ([`TooLong`]); `visit` returning `false` stops it too.
    pub fn walk_paths(
        &self,
        max_len: usize,
        max_moves: usize,
        visit: &mut dyn FnMut(&[usize]) -> bool,
    ) -> Result<(), TooLong> {
        let n_steps = self
            .graph
            .node_weights()
            .filter_map(|n| match n {
                CfgNode::Step(i) => Some(i + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let reachable = self.reachable(n_steps);
        // Whether a loop body can perform any step (else it is skipped): a
        // body's nodes are the ones added between its head and tail.
        let body_has_step = |head: NodeIndex| -> bool {
            let CfgNode::LoopHead { tail, .. } = self.graph[head] else {
                return false;
            };
            (head.index()..tail.index())
                .any(|n| matches!(self.graph[NodeIndex::new(n)], CfgNode::Step(i) if reachable[i]))
        };
        struct State {
            node: NodeIndex,
            iterations: Vec<u64>,
            steps: Vec<usize>,
        }
        let forward = |v: NodeIndex| -> Vec<NodeIndex> {
            let mut out: Vec<(usize, usize, NodeIndex)> = self
                .graph
                .edges(v)
                .filter(|e| !matches!(e.weight(), CfgEdge::Back | CfgEdge::Skip))
                .map(|e| (e.weight().order(), e.id().index(), e.target()))
                .collect();
            out.sort_unstable();
            out.into_iter().map(|(_, _, t)| t).collect()
        };
        let target_of = |v: NodeIndex, kind: CfgEdge| {
            self.graph
                .edges(v)
                .find(|e| *e.weight() == kind)
                .map(|e| e.target())
        };
        let mut stack = vec![State {
            node: self.entry,
            iterations: Vec::new(),
            steps: Vec::new(),
        }];
        let mut moves = 0usize;
        while let Some(mut s) = stack.pop() {
            moves += 1;
            if moves > max_moves {
                return Err(TooLong);
            }
            let mut next: Vec<State> = Vec::new();
            let mut go = |node: NodeIndex, s: &State, iterations: Vec<u64>| {
                next.push(State {
                    node,
                    iterations,
                    steps: s.steps.clone(),
                });
            };
            match &self.graph[s.node] {
                CfgNode::Exit => {
                    if !visit(&s.steps) {
                        return Ok(());
                    }
                    continue;
                }
                CfgNode::Step(i) => {
                    s.steps.push(*i);
                    if s.steps.len() > max_len {
                        return Err(TooLong);
                    }
                    for t in forward(s.node) {
                        go(t, &s, s.iterations.clone());
                    }
                }
                CfgNode::LoopHead { count, tail, .. } => {
                    let zero_ok = target_of(s.node, CfgEdge::Skip).is_some();
                    if !body_has_step(s.node) {
                        // However often it turns, nothing runs.
                        for t in forward(*tail) {
                            go(t, &s, s.iterations.clone());
                        }
                    } else {
                        if *count >= 1
                            && let Some(first) = target_of(s.node, CfgEdge::Enter)
                        {
                            let mut it = s.iterations.clone();
                            it.push(0);
                            go(first, &s, it);
                        }
                        if zero_ok {
                            for t in forward(*tail) {
                                go(t, &s, s.iterations.clone());
                            }
                        }
                    }
                }
                CfgNode::LoopTail { head } => {
                    let mut it = s.iterations.clone();
                    let done = it.pop().map_or(1, |d| d + 1);
                    let (count, at_most) = match &self.graph[*head] {
                        CfgNode::LoopHead { count, at_most, .. } => (*count, *at_most),
                        _ => (0, false),
                    };
                    // Back to the head, into the body for one more turn.
                    if done < count
                        && let Some(h) = target_of(s.node, CfgEdge::Back)
                        && let Some(first) = target_of(h, CfgEdge::Enter)
                    {
                        let mut again = it.clone();
                        again.push(done);
                        go(first, &s, again);
                    }
                    if done >= count || at_most {
                        for t in forward(s.node) {
                            go(t, &s, it.clone());
                        }
                    }
                }
                _ => {
                    for t in forward(s.node) {
                        go(t, &s, s.iterations.clone());
                    }
                }
            }
            // Depth first, the first branch first.
            stack.extend(next.into_iter().rev());
        }
        Ok(())
    }
}

/// A path under construction by [`Cfg::solve`]: concatenating and cloning
/// cost O(1) (pieces are shared), and it is flattened into a [`Path`] once,
/// at the end. The dynamic program concatenates at every node; with plain
/// vectors, every question about a 1,000-step plan copied paths a quadratic
/// number of times (20 s to report the refusals of such a plan).
#[derive(Clone, Default)]
struct Trail(Option<Rc<TrailNode>>);

enum TrailNode {
    One(PathElem),
    /// Two non-empty trails, one after the other.
    Cat(Trail, Trail),
}

impl Trail {
    fn one(e: PathElem) -> Trail {
        Trail(Some(Rc::new(TrailNode::One(e))))
    }

    /// The path, in order (iteratively: trails can be thousands deep).
    fn to_path(&self) -> Path {
        let mut out = Vec::new();
        let mut stack: Vec<&Trail> = vec![self];
        while let Some(t) = stack.pop() {
            match t.0.as_deref() {
                None => {}
                Some(TrailNode::One(e)) => out.push(e.clone()),
                Some(TrailNode::Cat(a, b)) => {
                    stack.push(b);
                    stack.push(a);
                }
            }
        }
        out
    }
}

impl Drop for TrailNode {
    // Iteratively too: the default drop of a chain thousands deep would
    // recurse once per link.
    fn drop(&mut self) {
        let TrailNode::Cat(a, b) = self else { return };
        let mut stack = vec![std::mem::take(a), std::mem::take(b)];
        while let Some(t) = stack.pop() {
            if let Some(rc) = t.0
                && let Ok(mut node) = Rc::try_unwrap(rc)
                && let TrailNode::Cat(a, b) = &mut node
            {
                stack.push(std::mem::take(a));
                stack.push(std::mem::take(b));
            }
        }
    }
}

fn cat(a: &Trail, b: &Trail) -> Trail {
    match (&a.0, &b.0) {
        (None, _) => b.clone(),
        (_, None) => a.clone(),
        _ => Trail(Some(Rc::new(TrailNode::Cat(a.clone(), b.clone())))),
    }
}

fn iters(span: &Span, count: u64, p: &Trail) -> Trail {
    let mark = Trail::one(PathElem::Iterations {
        span: span.clone(),
        count,
    });
    cat(&mark, p)
}

fn cat_opt(a: Option<&Trail>, b: Option<&Trail>) -> Option<Trail> {
    Some(cat(a?, b?))
}

/// `path_to`: a prefix ending at step `.0`, and some complete path (first
/// branches, fewest iterations).
struct PathTo(usize);

#[derive(Clone)]
struct PathToSum {
    to: Option<Trail>,
    any: Trail,
}

impl PathQuestion for PathTo {
    type Sum = PathToSum;
    fn empty(&self) -> PathToSum {
        PathToSum {
            to: None,
            any: Trail::default(),
        }
    }
    fn step(&self, i: usize) -> PathToSum {
        let p = Trail::one(PathElem::Step(i));
        PathToSum {
            to: (i == self.0).then(|| p.clone()),
            any: p,
        }
    }
    fn mark(&self, e: PathElem) -> PathToSum {
        PathToSum {
            to: None,
            any: Trail::one(e),
        }
    }
    fn then(&self, a: &PathToSum, b: &PathToSum) -> PathToSum {
        PathToSum {
            to: a
                .to
                .clone()
                .or_else(|| cat_opt(Some(&a.any), b.to.as_ref())),
            any: cat(&a.any, &b.any),
        }
    }
    fn or(&self, a: PathToSum, b: &PathToSum) -> PathToSum {
        PathToSum {
            to: a.to.or_else(|| b.to.clone()),
            any: a.any,
        }
    }
    fn repeat(&self, body: &PathToSum, count: u64, at_most: bool, span: &Span) -> PathToSum {
        if count == 0 {
            return self.empty();
        }
        PathToSum {
            to: body.to.as_ref().map(|p| iters(span, 1, p)),
            any: if at_most {
                Trail::default()
            } else {
                iters(span, count, &body.any)
            },
        }
    }
}

/// `path_count`: the number of paths, saturating at `u64::MAX`.
struct CountPaths;

impl PathQuestion for CountPaths {
    type Sum = u64;
    fn empty(&self) -> u64 {
        1
    }
    fn step(&self, _: usize) -> u64 {
        1
    }
    fn mark(&self, _: PathElem) -> u64 {
        1
    }
    fn then(&self, a: &u64, b: &u64) -> u64 {
        a.saturating_mul(*b)
    }
    fn or(&self, a: u64, b: &u64) -> u64 {
        a.saturating_add(*b)
    }
    fn repeat(&self, body: &u64, count: u64, at_most: bool, _: &Span) -> u64 {
        // `repeat N`: body^N; `repeat at most N`: body^0 + ... + body^N.
        match (*body, at_most) {
            _ if count == 0 => return 1,
            (0, _) => return u64::from(at_most),
            (1, true) => return count.saturating_add(1),
            (1, false) => return 1,
            _ => {}
        }
        let (mut power, mut total) = (1u64, u64::from(at_most));
        for _ in 0..count {
            power = power.saturating_mul(*body);
            total = if at_most {
                total.saturating_add(power)
            } else {
                power
            };
            if total == u64::MAX {
                break;
            }
        }
        total
    }
}

/// `at most`: the largest count on one path, and that path.
struct MaxCount<'a>(&'a dyn Fn(usize) -> bool);

impl PathQuestion for MaxCount<'_> {
    type Sum = (u64, Trail);
    fn empty(&self) -> (u64, Trail) {
        (0, Trail::default())
    }
    fn step(&self, i: usize) -> (u64, Trail) {
        if (self.0)(i) {
            (1, Trail::one(PathElem::Step(i)))
        } else {
            (0, Trail::default())
        }
    }
    fn mark(&self, e: PathElem) -> (u64, Trail) {
        (0, Trail::one(e))
    }
    fn then(&self, a: &(u64, Trail), b: &(u64, Trail)) -> (u64, Trail) {
        (a.0.saturating_add(b.0), cat(&a.1, &b.1))
    }
    fn or(&self, a: (u64, Trail), b: &(u64, Trail)) -> (u64, Trail) {
        if b.0 > a.0 { b.clone() } else { a }
    }
    fn repeat(&self, body: &(u64, Trail), count: u64, _: bool, span: &Span) -> (u64, Trail) {
        if body.0 == 0 || count == 0 {
            (0, Trail::default())
        } else {
            (body.0.saturating_mul(count), iters(span, count, &body.1))
        }
    }
}

/// `never A after B`.
struct NeverAfter<'a> {
    may_a: &'a dyn Fn(usize) -> bool,
    may_b: &'a dyn Fn(usize) -> bool,
}

#[derive(Clone)]
struct NeverSum {
    /// Some complete path.
    any: Trail,
    /// A complete path on which some step may be B.
    b: Option<Trail>,
    /// A prefix ending at a step that may be A.
    a: Option<Trail>,
    /// A prefix ending at an A that follows a B.
    viol: Option<Trail>,
}

impl PathQuestion for NeverAfter<'_> {
    type Sum = NeverSum;
    fn empty(&self) -> NeverSum {
        self.mark_path(Trail::default())
    }
    fn step(&self, i: usize) -> NeverSum {
        let p = Trail::one(PathElem::Step(i));
        NeverSum {
            b: (self.may_b)(i).then(|| p.clone()),
            a: (self.may_a)(i).then(|| p.clone()),
            any: p,
            viol: None,
        }
    }
    fn mark(&self, e: PathElem) -> NeverSum {
        self.mark_path(Trail::one(e))
    }
    fn then(&self, x: &NeverSum, y: &NeverSum) -> NeverSum {
        NeverSum {
            viol: x
                .viol
                .clone()
                .or_else(|| cat_opt(x.b.as_ref(), y.a.as_ref()))
                .or_else(|| cat_opt(Some(&x.any), y.viol.as_ref())),
            b: cat_opt(x.b.as_ref(), Some(&y.any)).or_else(|| cat_opt(Some(&x.any), y.b.as_ref())),
            a: x.a.clone().or_else(|| cat_opt(Some(&x.any), y.a.as_ref())),
            any: cat(&x.any, &y.any),
        }
    }
    fn or(&self, x: NeverSum, y: &NeverSum) -> NeverSum {
        NeverSum {
            any: x.any,
            b: x.b.or_else(|| y.b.clone()),
            a: x.a.or_else(|| y.a.clone()),
            viol: x.viol.or_else(|| y.viol.clone()),
        }
    }
    fn repeat(&self, s: &NeverSum, count: u64, at_most: bool, span: &Span) -> NeverSum {
        if count == 0 {
            return self.empty();
        }
        let viol = s.viol.as_ref().map(|v| iters(span, 1, v)).or_else(|| {
            // B in one iteration, A in the next.
            (count >= 2)
                .then(|| cat_opt(s.b.as_ref(), s.a.as_ref()))
                .flatten()
                .map(|p| iters(span, 2, &p))
        });
        NeverSum {
            any: if at_most {
                Trail::default()
            } else {
                iters(span, count, &s.any)
            },
            b: s.b.as_ref().map(|b| iters(span, 1, b)),
            a: s.a.as_ref().map(|a| iters(span, 1, a)),
            viol,
        }
    }
}

impl NeverAfter<'_> {
    fn mark_path(&self, any: Trail) -> NeverSum {
        NeverSum {
            any,
            b: None,
            a: None,
            viol: None,
        }
    }
}

/// `require A before B`.
struct RequireBefore<'a> {
    must_a: &'a dyn Fn(usize) -> bool,
    may_b: &'a dyn Fn(usize) -> bool,
}

#[derive(Clone)]
struct RequireSum {
    /// A prefix ending at a step that may be B, with no step that must be
    /// A before it.
    viol: Option<Trail>,
    /// A complete path with no step that must be A.
    no_a: Option<Trail>,
}

impl PathQuestion for RequireBefore<'_> {
    type Sum = RequireSum;
    fn empty(&self) -> RequireSum {
        RequireSum {
            viol: None,
            no_a: Some(Trail::default()),
        }
    }
    fn step(&self, i: usize) -> RequireSum {
        let p = Trail::one(PathElem::Step(i));
        RequireSum {
            viol: (self.may_b)(i).then(|| p.clone()),
            no_a: (!(self.must_a)(i)).then_some(p),
        }
    }
    fn mark(&self, e: PathElem) -> RequireSum {
        RequireSum {
            viol: None,
            no_a: Some(Trail::one(e)),
        }
    }
    fn then(&self, x: &RequireSum, y: &RequireSum) -> RequireSum {
        RequireSum {
            viol: x
                .viol
                .clone()
                .or_else(|| cat_opt(x.no_a.as_ref(), y.viol.as_ref())),
            no_a: cat_opt(x.no_a.as_ref(), y.no_a.as_ref()),
        }
    }
    fn or(&self, x: RequireSum, y: &RequireSum) -> RequireSum {
        RequireSum {
            viol: x.viol.or_else(|| y.viol.clone()),
            no_a: x.no_a.or_else(|| y.no_a.clone()),
        }
    }
    fn repeat(&self, s: &RequireSum, count: u64, at_most: bool, span: &Span) -> RequireSum {
        if count == 0 {
            return self.empty();
        }
        RequireSum {
            viol: s.viol.as_ref().map(|v| iters(span, 1, v)),
            no_a: if at_most {
                Some(Trail::default())
            } else {
                s.no_a.as_ref().map(|p| iters(span, count, p))
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trail_thousands_deep_flattens_and_drops_without_recursion() {
        // On a small stack: both the flattening and the drop of a
        // left-deep chain (what the DP builds for a long plan) must be
        // iterative.
        let t = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let mut trail = Trail::default();
                for i in 0..100_000 {
                    trail = cat(&trail, &Trail::one(PathElem::Step(i)));
                }
                let path = trail.to_path();
                assert_eq!(path.len(), 100_000);
                assert_eq!(path[0], PathElem::Step(0));
                assert_eq!(path[99_999], PathElem::Step(99_999));
                // A shared piece stays whole when one owner goes.
                let shared = cat(&trail, &Trail::default());
                drop(trail);
                assert_eq!(shared.to_path().len(), 100_000);
            })
            .unwrap();
        t.join().unwrap();
    }
}
