//! The plan's order as the engines read it. Inside a scope, an object's wave
//! is the length of the longest chain of objects of its scope it waits for
//! (0 when it waits for none there), so every object comes a wave after all
//! it waits for and independent objects share one: Argo CD's sync waves.
//! Between scopes, the scopes each one waits for: every tenant waits for
//! infra, and for any scope one of its objects waits for in the plan: Flux's
//! `dependsOn`, and the waves of the Argo CD Applications. Pure.

use std::collections::{BTreeMap, BTreeSet};

use crate::pipeline::manifest::{Manifest, Scope};
use crate::pipeline::plan::Plan;

/// Each object's wave, by manifest index.
pub fn waves(manifests: &[Manifest], plan: &Plan) -> Vec<u32> {
    let mut memo: Vec<Option<u32>> = vec![None; manifests.len()];
    for i in 0..manifests.len() {
        wave(i, manifests, plan, &mut memo);
    }
    memo.into_iter().map(Option::unwrap_or_default).collect()
}

/// The wave of object `i`, remembered in `memo` (the plan has no cycle).
fn wave(i: usize, manifests: &[Manifest], plan: &Plan, memo: &mut Vec<Option<u32>>) -> u32 {
    if let Some(w) = memo[i] {
        return w;
    }
    let scope = &manifests[i].origin.scope;
    let w = plan.steps[i]
        .after
        .iter()
        .filter(|&&a| manifests[a].origin.scope == *scope)
        .map(|&a| wave(a, manifests, plan, memo) + 1)
        .max()
        .unwrap_or(0);
    memo[i] = Some(w);
    w
}

/// Each scope of the render with the scopes it waits for.
pub fn scope_dependencies(manifests: &[Manifest], plan: &Plan) -> BTreeMap<Scope, BTreeSet<Scope>> {
    let mut deps: BTreeMap<Scope, BTreeSet<Scope>> = BTreeMap::new();
    for m in manifests {
        deps.entry(m.origin.scope.clone()).or_default();
    }
    let has_infra = deps.contains_key(&Scope::Infra);
    for (scope, after) in deps.iter_mut() {
        if has_infra && *scope != Scope::Infra {
            after.insert(Scope::Infra);
        }
    }
    for (i, m) in manifests.iter().enumerate() {
        for &a in &plan.steps[i].after {
            let other = &manifests[a].origin.scope;
            if other != &m.origin.scope {
                deps.entry(m.origin.scope.clone())
                    .or_default()
                    .insert(other.clone());
            }
        }
    }
    deps
}

/// Each scope's wave among the scopes: one more than the highest of the
/// scopes it waits for.
pub fn scope_waves(deps: &BTreeMap<Scope, BTreeSet<Scope>>) -> BTreeMap<Scope, u32> {
    fn depth(
        scope: &Scope,
        deps: &BTreeMap<Scope, BTreeSet<Scope>>,
        seen: &mut BTreeMap<Scope, u32>,
    ) -> u32 {
        if let Some(&d) = seen.get(scope) {
            return d;
        }
        // A scope met again while its depth is worked out (a circle, which
        // the plan's rules rule out) counts as 0 rather than recursing forever.
        seen.insert(scope.clone(), 0);
        let d = deps
            .get(scope)
            .into_iter()
            .flatten()
            .map(|s| depth(s, deps, seen) + 1)
            .max()
            .unwrap_or(0);
        seen.insert(scope.clone(), d);
        d
    }
    let mut seen = BTreeMap::new();
    for scope in deps.keys() {
        depth(scope, deps, &mut seen);
    }
    seen
}
