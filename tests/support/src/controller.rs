//! The controller inside the server, playing kube-controller-manager, the
//! scheduler and the kubelet: Deployments → ReplicaSets → Pods, StatefulSets,
//! DaemonSets and Jobs with the status fields real controllers write, PVC
//! binding (honouring `WaitForFirstConsumer`) and the volumes behind the
//! claims ([`volumes`]), CRD establishment and
//! discovery registration, namespace termination, garbage collection by
//! ownerReferences, and Events. Each object behaves as the most specific
//! matching `Target` says (default: ready after `Options::ready_after`). All
//! its writes go through the store like any client's, as managers
//! `kube-controller-manager`/`kubelet`, and are not client writes.
//!
//! A pass runs on every store change and on timers, but each stage visits
//! only what changed since its last run and what has a timer due (see
//! [`track`]), so a pass costs what changed, not what is stored.

mod scheduling;
mod track;
mod volumes;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::Shared;
use crate::ops::{Ctx, State};
use crate::store::{Gr, hash_value, owner_uids, rfc3339};
use track::{At, Stage, Tracker, Work, key_of};

/// Which objects a [`Behavior`] applies to: a kind, optionally a namespace
/// and a name (exact, or a prefix when it ends with `*`).
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Target {
    /// Every object of a kind (`Deployment`, `Job`, `PersistentVolumeClaim`, `Namespace`, `Pod`, ...).
    pub fn kind(kind: &str) -> Target {
        Target {
            kind: kind.into(),
            namespace: None,
            name: None,
        }
    }
    /// Only objects with this name (`x`) or name prefix (`x-*`).
    pub fn named(mut self, name: &str) -> Target {
        self.name = Some(name.into());
        self
    }
    pub fn in_namespace(mut self, namespace: &str) -> Target {
        self.namespace = Some(namespace.into());
        self
    }

    pub(crate) fn matches(&self, kind: &str, ns: &str, name: &str) -> bool {
        self.kind == kind
            && self.namespace.as_deref().is_none_or(|n| n == ns)
            && self
                .name
                .as_deref()
                .is_none_or(|n| match n.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => n == name,
                })
    }

    fn specificity(&self) -> usize {
        let name = match self.name.as_deref() {
            None => 0,
            Some(n) if n.ends_with('*') => 1 + n.len(),
            Some(_) => 1000,
        };
        name * 2 + usize::from(self.namespace.is_some())
    }
}

/// How matching objects (and the pods behind them) behave.
#[derive(Debug, Clone, PartialEq)]
pub enum Behavior {
    /// Become ready after this long (Jobs complete, PVCs bind).
    Ready { after: Duration },
    /// Pods stay not ready with this trouble; a PVC stays Pending; a CRD is never
    /// established; a deleted Namespace stays Terminating.
    NeverReady(PodTrouble),
    /// As `NeverReady`, and a Deployment's `Progressing` turns `False`
    /// (`ProgressDeadlineExceeded`) after a while.
    Fail(PodTrouble),
    /// A Job's pod fails with these log lines; the Job ends `Failed` (`BackoffLimitExceeded`).
    JobFails { log: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodTrouble {
    ImagePullBackOff,
    CrashLoopBackOff,
    Unschedulable,
    CreateContainerConfigError,
    /// Running, with a readiness probe that keeps failing (`Unhealthy`).
    NotReady,
}

fn gr(group: &str, plural: &str) -> Gr {
    (group.to_string(), plural.to_string())
}

fn name_of(o: &Value) -> String {
    o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
fn ns_of(o: &Value) -> String {
    o["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
fn uid_of(o: &Value) -> String {
    o["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
fn deleting(o: &Value) -> bool {
    !o["metadata"]["deletionTimestamp"].is_null()
}
fn generation(o: &Value) -> i64 {
    o["metadata"]["generation"].as_i64().unwrap_or(1)
}

/// Creates what every cluster has: the system namespaces, the nodes, and a
/// default StorageClass (as kind's `standard`: local-path, binding on the
/// first consumer).
pub fn bootstrap(st: &mut State) {
    st.controller_put(
        &gr("storage.k8s.io", "storageclasses"),
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
               "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
               "volumeBindingMode": "WaitForFirstConsumer"}),
        "kube-apiserver",
    );
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        st.controller_put(
            &gr("", "namespaces"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            "kube-apiserver",
        );
    }
    for i in 1..=st.options.nodes {
        crate::nodes::put(st, &crate::nodes::Node::new(&format!("node-{i}")), i);
    }
}

/// Reconciles forever, on every store change and on timers.
pub async fn run(shared: Arc<Shared>) {
    let mut changes = shared.lock().store.subscribe();
    let mut c = Controller {
        next: None,
        now: Instant::now(),
        sys: SystemTime::now(),
        track: Tracker::default(),
        current: None,
    };
    loop {
        changes.borrow_and_update();
        let next = c.pass(&mut shared.lock());
        let wait = next
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(2), Duration::from_secs(1));
        tokio::select! {
            r = changes.changed() => {
                if r.is_err() { return; }
                // let a burst of writes land before the next pass
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

struct Controller {
    next: Option<Instant>,
    now: Instant,
    sys: SystemTime,
    track: Tracker,
    /// The stage and object being reconciled: what its `wake`s are for.
    current: Option<(Stage, At)>,
}

const KCM: &str = "kube-controller-manager";

impl Controller {
    /// One pass over every stage; when the next one is due (the earliest timer).
    fn pass(&mut self, st: &mut State) -> Option<Instant> {
        self.now = Instant::now();
        self.sys = SystemTime::now();
        self.next = None;
        self.reconcile(st);
        self.current = None;
        [self.next, self.track.next(self.now)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Starts a stage: what it must visit.
    fn begin(&mut self, st: &State, stage: Stage) -> Work {
        self.current = None;
        self.track.begin(st, stage, self.now)
    }

    /// Starts on one object of a stage: its old timer goes, its `wake`s set the new one.
    fn focus(&mut self, stage: Stage, g: &Gr, obj: &Value) {
        let at = (g.clone(), key_of(obj));
        self.track.clear_timer(stage, &at);
        self.current = Some((stage, at));
    }

    fn wake(&mut self, at: Instant) {
        if at > self.now {
            self.next = Some(self.next.map_or(at, |n| n.min(at)));
            if let Some((stage, obj)) = &self.current {
                self.track.set_timer(*stage, obj.clone(), at);
            }
        }
    }

    /// Visits the current object again next pass, whatever changes (without waking one).
    fn revisit(&mut self) {
        if let Some((stage, obj)) = &self.current {
            self.track.set_timer(*stage, obj.clone(), self.now);
        }
    }

    /// When this (uid, generation) was first seen; marks it now if new.
    fn seen(&self, st: &mut State, uid: &str, generation: i64) -> (Instant, SystemTime) {
        let (now, sys) = (self.now, self.sys);
        let at = *st
            .observed
            .entry((uid.to_string(), generation))
            .or_insert(now);
        let sys_at = sys
            .checked_sub(now.saturating_duration_since(at))
            .unwrap_or(sys);
        (at, sys_at)
    }

    /// Waits until `at + after`; true when the time has come.
    fn due(&mut self, at: Instant, after: Duration) -> bool {
        let t = at + after;
        if self.now >= t {
            true
        } else {
            self.wake(t);
            false
        }
    }

    fn reconcile(&mut self, st: &mut State) {
        self.crds(st);
        self.namespaces(st);
        self.garbage_collect(st);
        self.deployments(st);
        self.replicasets(st);
        self.statefulsets(st);
        self.daemonsets(st);
        self.jobs(st);
        self.pvcs(st);
        self.volumes(st);
        self.operators(st);
        self.kubelet(st);
        self.deployment_status(st);
    }

    fn default_behavior(st: &State) -> Behavior {
        Behavior::Ready {
            after: st.options.ready_after,
        }
    }

    fn behavior(st: &State, kind: &str, ns: &str, name: &str) -> Option<Behavior> {
        st.behaviors
            .iter()
            .enumerate()
            .filter(|(_, (t, _))| t.matches(kind, ns, name))
            .max_by_key(|(i, (t, _))| (t.specificity(), *i))
            .map(|(_, (_, b))| b.clone())
    }

    /// A pod's behaviour: its own target, else its controller's, up the owner chain.
    fn pod_behavior(st: &State, pod: &Value) -> Behavior {
        let mut cur = pod;
        let mut kind = "Pod".to_string();
        for _ in 0..4 {
            if let Some(b) = Self::behavior(st, &kind, &ns_of(cur), &name_of(cur)) {
                return b;
            }
            let Some(owner) = cur["metadata"]["ownerReferences"]
                .as_array()
                .and_then(|r| r.iter().find(|r| r["controller"] == true))
            else {
                break;
            };
            kind = owner["kind"].as_str().unwrap_or_default().to_string();
            let group = owner["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .split_once('/')
                .map(|(g, _)| g)
                .unwrap_or("")
                .to_string();
            let Some(def) = st
                .registry
                .defs
                .iter()
                .find(|d| d.group == group && d.kind == kind)
            else {
                break;
            };
            match st.store.get(
                &def.gr(),
                &ns_of(cur),
                owner["name"].as_str().unwrap_or_default(),
            ) {
                Some(o) => cur = &o.obj,
                None => {
                    return Self::behavior(
                        st,
                        &kind,
                        &ns_of(cur),
                        owner["name"].as_str().unwrap_or_default(),
                    )
                    .unwrap_or_else(|| Self::default_behavior(st));
                }
            }
        }
        Self::default_behavior(st)
    }

    fn names(st: &State, group: &str, plural: &str) -> Vec<String> {
        st.store
            .list(&gr(group, plural), None)
            .into_iter()
            .map(|s| name_of(&s.obj))
            .collect()
    }

    fn objects(st: &State, group: &str, plural: &str) -> Vec<Arc<Value>> {
        st.store
            .list(&gr(group, plural), None)
            .into_iter()
            .map(|s| s.obj.clone())
            .collect()
    }

    /// The objects of a type in `ns` whose controller is `owner_uid`, in store order.
    fn owned(st: &State, group: &str, plural: &str, ns: &str, owner_uid: &str) -> Vec<Arc<Value>> {
        let g = gr(group, plural);
        st.store
            .dependents(owner_uid)
            .filter(|(dg, (dns, _))| *dg == g && dns == ns)
            .filter_map(|(dg, (dns, name))| st.store.get(dg, dns, name))
            .filter(|s| {
                s.obj["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|r| {
                        r.iter()
                            .any(|r| r["uid"] == owner_uid && r["controller"] == true)
                    })
            })
            .map(|s| s.obj.clone())
            .collect()
    }

    fn set_status(
        &self,
        st: &mut State,
        g: &str,
        plural: &str,
        obj: &Value,
        status: Value,
        manager: &str,
    ) {
        st.controller_status(&gr(g, plural), &ns_of(obj), &name_of(obj), status, manager);
    }

    /// Records a core/v1 Event (deduplicated by object, reason and message: repeats bump `count`).
    fn event(
        &self,
        st: &mut State,
        involved: &Value,
        type_: &str,
        reason: &str,
        message: &str,
        component: &str,
    ) {
        let ns = match ns_of(involved) {
            n if n.is_empty() => "default".to_string(),
            n => n,
        };
        let key = json!([uid_of(involved), reason, message]);
        let name = format!("{}.{}", name_of(involved), &hash_value(&key)[..8]);
        let now = rfc3339(self.sys);
        let g = gr("", "events");
        let mut ev = match st.store.get(&g, &ns, &name) {
            Some(e) => {
                let mut e = Value::clone(&e.obj);
                e["count"] = json!(e["count"].as_i64().unwrap_or(1) + 1);
                e["lastTimestamp"] = json!(now);
                e
            }
            None => json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": ns},
                "involvedObject": {
                    "kind": involved["kind"], "apiVersion": involved["apiVersion"], "name": name_of(involved),
                    "namespace": ns_of(involved), "uid": uid_of(involved), "resourceVersion": involved["metadata"]["resourceVersion"],
                },
                "reason": reason, "message": message, "type": type_, "count": 1,
                "firstTimestamp": now, "lastTimestamp": now,
                "source": {"component": component},
                "reportingComponent": component, "reportingInstance": "",
                "eventTime": null,
            }),
        };
        if let Some(m) = ev["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        st.controller_put(&g, ev.take(), component);
    }

    // ---- CRDs ----------------------------------------------------------------

    fn crds(&mut self, st: &mut State) {
        let g = gr("apiextensions.k8s.io", "customresourcedefinitions");
        let work = self.begin(st, Stage::Crds);
        for crd in work.objects(st, &g) {
            self.focus(Stage::Crds, &g, &crd);
            let name = name_of(&crd);
            if deleting(&crd) {
                continue;
            }
            if matches!(
                Self::behavior(st, "CustomResourceDefinition", "", &name),
                Some(Behavior::NeverReady(_) | Behavior::Fail(_))
            ) {
                continue;
            }
            let (_, sys) = self.seen(st, &uid_of(&crd), generation(&crd));
            let t = rfc3339(sys);
            let storage: Vec<Value> = crd["spec"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["storage"] == true)
                .map(|v| v["name"].clone())
                .collect();
            let mut names = crd["spec"]["names"].clone();
            if names.get("singular").is_none() {
                names["singular"] =
                    json!(names["kind"].as_str().unwrap_or_default().to_lowercase());
            }
            if names.get("listKind").is_none() {
                names["listKind"] = json!(format!(
                    "{}List",
                    names["kind"].as_str().unwrap_or_default()
                ));
            }
            let status = json!({
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t, "reason": "NoConflicts", "message": "no conflicts found"},
                    {"type": "Established", "status": "True", "lastTransitionTime": t, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
                ],
                "acceptedNames": names,
                "storedVersions": storage,
            });
            self.set_status(
                st,
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                &crd,
                status,
                "kube-apiserver",
            );
            let lag = st.options.crd_discovery_lag;
            st.registry.set_crd_visible_at(&name, self.now + lag);
            if let Some(at) = st.registry.crd_visible_at(&name) {
                self.wake(at);
            }
        }
    }

    // ---- Namespaces and garbage collection ------------------------------------

    /// Deleting namespaces to look at: those that, or whose content, changed.
    fn terminating(&mut self, st: &State) -> Vec<String> {
        let g = gr("", "namespaces");
        let work = self.begin(st, Stage::Namespaces);
        st.store
            .list(&g, None)
            .into_iter()
            .filter(|s| deleting(&s.obj))
            .map(|s| name_of(&s.obj))
            .filter(|n| {
                work.full
                    || work.namespaces.contains(n)
                    || work
                        .touched
                        .contains(&(g.clone(), (String::new(), n.clone())))
            })
            .collect()
    }

    fn namespaces(&mut self, st: &mut State) {
        for name in self.terminating(st) {
            let mut remaining = 0;
            for t in st.store.types() {
                let Some(def) = st.def_by_gr(&t) else {
                    continue;
                };
                if !def.namespaced {
                    continue;
                }
                let items: Vec<(String, bool)> = st
                    .store
                    .list(&t, Some(&name))
                    .into_iter()
                    .map(|s| (name_of(&s.obj), deleting(&s.obj)))
                    .collect();
                for (item, gone) in items {
                    remaining += 1;
                    if !gone {
                        let _ = st.delete(
                            &def,
                            &name,
                            &item,
                            None,
                            &Ctx::controller("namespace-controller"),
                        );
                    }
                }
            }
            let stuck = st.stuck_namespaces.contains(&name)
                || matches!(
                    Self::behavior(st, "Namespace", "", &name),
                    Some(Behavior::NeverReady(_) | Behavior::Fail(_))
                );
            if remaining == 0 && !stuck {
                st.remove_now(&gr("", "namespaces"), "", &name);
            }
        }
    }

    fn garbage_collect(&mut self, st: &mut State) {
        let work = self.begin(st, Stage::GarbageCollector);
        let mut orphans = vec![];
        let mut foreground = vec![];
        for (g, (ns, name)) in work.all(st) {
            let Some(s) = st.store.get(&g, &ns, &name) else {
                continue;
            };
            let owners = owner_uids(&s.obj);
            if !owners.is_empty()
                && owners.iter().all(|u| st.store.by_uid(u).is_none())
                && !deleting(&s.obj)
            {
                orphans.push((g.clone(), s.obj.clone()));
            }
            if deleting(&s.obj)
                && s.obj["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f == "foregroundDeletion"))
            {
                foreground.push((g.clone(), s.obj.clone()));
            }
        }
        for (g, o) in orphans {
            if let Some(def) = st.def_by_gr(&g) {
                let _ = st.delete(
                    &def,
                    &ns_of(&o),
                    &name_of(&o),
                    None,
                    &Ctx::controller("generic-garbage-collector"),
                );
            }
        }
        for (g, o) in foreground {
            let uid = uid_of(&o);
            let deps: Vec<(Gr, Arc<Value>)> = st
                .store
                .dependents(&uid)
                .filter_map(|(g, (ns, name))| Some((g.clone(), st.store.get(g, ns, name)?)))
                .map(|(g, s)| (g, s.obj.clone()))
                .collect();
            if deps.is_empty() {
                let mut o = Value::clone(&o);
                if let Some(f) = o["metadata"]["finalizers"].as_array_mut() {
                    f.retain(|f| f != "foregroundDeletion");
                }
                st.controller_put(&g, o, "generic-garbage-collector");
            } else {
                for (dg, d) in deps {
                    if let (Some(def), false) = (st.def_by_gr(&dg), deleting(&d)) {
                        let _ = st.delete(
                            &def,
                            &ns_of(&d),
                            &name_of(&d),
                            Some("Foreground"),
                            &Ctx::controller("generic-garbage-collector"),
                        );
                    }
                }
            }
        }
    }

    // ---- Workloads -------------------------------------------------------------

    fn owner_ref(owner: &Value) -> Value {
        json!({"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": name_of(owner), "uid": uid_of(owner),
               "controller": true, "blockOwnerDeletion": true})
    }

    /// A node for a new pod, or none when its behaviour keeps it unscheduled.
    fn pick_node(st: &State, behavior: &Behavior, seed: &str) -> Option<String> {
        if scheduling::unschedulable(behavior) {
            return None;
        }
        let n = st.options.nodes.max(1) as usize;
        let h = hash_value(&json!(seed))
            .bytes()
            .fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
        Some(format!("node-{}", h % n + 1))
    }

    /// Creates a pod from a template, owned by `owner`.
    #[allow(clippy::too_many_arguments)]
    fn create_pod(
        &self,
        st: &mut State,
        owner: &Value,
        template: &Value,
        name: &str,
        extra_labels: Value,
        node: Option<String>,
        volumes: Vec<Value>,
    ) {
        let ns = ns_of(owner);
        let mut labels = template["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        for (k, v) in extra_labels.as_object().into_iter().flatten() {
            labels[k] = v.clone();
        }
        let mut spec = template["spec"].clone();
        for (k, v) in [
            ("restartPolicy", json!("Always")),
            ("dnsPolicy", json!("ClusterFirst")),
            ("schedulerName", json!("default-scheduler")),
            ("serviceAccountName", json!("default")),
            ("terminationGracePeriodSeconds", json!(30)),
        ] {
            if spec.get(k).is_none() {
                spec[k] = v;
            }
        }
        if !volumes.is_empty() {
            let mut vs = spec["volumes"].as_array().cloned().unwrap_or_default();
            vs.extend(volumes);
            spec["volumes"] = json!(vs);
        }
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels, "ownerReferences": [Self::owner_ref(owner)]},
            "spec": spec,
        });
        if let Some(a) = template["metadata"].get("annotations") {
            pod["metadata"]["annotations"] = a.clone();
        }
        let behavior = Self::pod_behavior(st, &pod);
        let node = match Self::waits_on_immediate_claims(st, &ns, &pod["spec"]) {
            true => None,
            false => node.or_else(|| Self::pick_node(st, &behavior, name)),
        };
        if let Some(node) = &node {
            pod["spec"]["nodeName"] = json!(node);
        }
        if let Behavior::JobFails { log } = &behavior {
            let container = pod["spec"]["containers"][0]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            st.logs.insert(
                (ns.clone(), name.to_string()),
                vec![(container, log.clone())],
            );
        }
        st.controller_put(&gr("", "pods"), pod, KCM);
        let kind = owner["kind"].as_str().unwrap_or_default().to_string();
        let reason = "SuccessfulCreate";
        let msg = if kind == "StatefulSet" {
            format!(
                "create Pod {name} in StatefulSet {} successful",
                name_of(owner)
            )
        } else {
            format!("Created pod: {name}")
        };
        self.event(
            st,
            owner,
            "Normal",
            reason,
            &msg,
            if kind == "Job" {
                "job-controller"
            } else {
                "replicaset-controller"
            },
        );
    }

    fn delete_pod(st: &mut State, pod: &Value) {
        if let Some(def) = st.def_by_gr(&gr("", "pods")) {
            let _ = st.delete(
                &def,
                &ns_of(pod),
                &name_of(pod),
                None,
                &Ctx::controller(KCM),
            );
        }
    }

    fn pod_ready(pod: &Value) -> bool {
        pod["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
    }

    fn deployments(&mut self, st: &mut State) {
        let g = gr("apps", "deployments");
        let work = self.begin(st, Stage::Deployments);
        for d in work.objects(st, &g) {
            self.focus(Stage::Deployments, &g, &d);
            if deleting(&d) {
                continue;
            }
            let ns = ns_of(&d);
            let uid = uid_of(&d);
            let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
            let template = d["spec"]["template"].clone();
            let hash = hash_value(&template);
            let rs_name = format!("{}-{}", name_of(&d), hash);
            let rses = Self::owned(st, "apps", "replicasets", &ns, &uid);
            let revision = rses
                .iter()
                .filter_map(|r| {
                    r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                        .as_str()?
                        .parse::<i64>()
                        .ok()
                })
                .max()
                .unwrap_or(0);
            match rses.iter().find(|r| name_of(r) == rs_name) {
                None => {
                    let mut t = template.clone();
                    t["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                    let mut sel = d["spec"]["selector"].clone();
                    sel["matchLabels"]["pod-template-hash"] = json!(hash);
                    let rs = json!({
                        "apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "metadata": {"name": rs_name, "namespace": ns, "labels": t["metadata"]["labels"],
                            "annotations": {"deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                                "deployment.kubernetes.io/max-replicas": (replicas + 1).to_string(),
                                "deployment.kubernetes.io/revision": (revision + 1).to_string()},
                            "ownerReferences": [Self::owner_ref(&d)]},
                        "spec": {"replicas": replicas, "selector": sel, "template": t},
                    });
                    st.controller_put(&gr("apps", "replicasets"), rs, KCM);
                    self.event(
                        st,
                        &d,
                        "Normal",
                        "ScalingReplicaSet",
                        &format!("Scaled up replica set {rs_name} from 0 to {replicas}"),
                        "deployment-controller",
                    );
                }
                Some(rs) => {
                    let new_ready = rs["status"]["readyReplicas"].as_i64().unwrap_or(0);
                    if rs["spec"]["replicas"].as_i64() != Some(replicas) {
                        let mut rs = Value::clone(rs);
                        rs["spec"]["replicas"] = json!(replicas);
                        st.controller_put(&gr("apps", "replicasets"), rs, KCM);
                    }
                    if new_ready >= replicas {
                        for old in rses.iter().filter(|r| {
                            name_of(r) != rs_name && r["spec"]["replicas"].as_i64() != Some(0)
                        }) {
                            let mut old = Value::clone(old);
                            old["spec"]["replicas"] = json!(0);
                            self.event(
                                st,
                                &d,
                                "Normal",
                                "ScalingReplicaSet",
                                &format!("Scaled down replica set {} to 0", name_of(&old)),
                                "deployment-controller",
                            );
                            st.controller_put(&gr("apps", "replicasets"), old, KCM);
                        }
                    }
                }
            }
        }
    }

    fn deployment_status(&mut self, st: &mut State) {
        let g = gr("apps", "deployments");
        let work = self.begin(st, Stage::DeploymentStatus);
        for d in work.objects(st, &g) {
            self.focus(Stage::DeploymentStatus, &g, &d);
            if deleting(&d) {
                continue;
            }
            let ns = ns_of(&d);
            let uid = uid_of(&d);
            let generation_now = generation(&d);
            let (seen_at, _) = self.seen(st, &uid, generation_now);
            let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
            let hash = hash_value(&d["spec"]["template"]);
            let rs_name = format!("{}-{}", name_of(&d), hash);
            let rses = Self::owned(st, "apps", "replicasets", &ns, &uid);
            let sum = |f: &str| {
                rses.iter()
                    .map(|r| r["status"][f].as_i64().unwrap_or(0))
                    .sum::<i64>()
            };
            let new_rs = rses.iter().find(|r| name_of(r) == rs_name);
            let updated = new_rs
                .map(|r| r["status"]["replicas"].as_i64().unwrap_or(0))
                .unwrap_or(0);
            let total = sum("replicas");
            let ready = sum("readyReplicas");
            let available = sum("availableReplicas");
            let max_unavailable = match &d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] {
                Value::String(p) => {
                    p.trim_end_matches('%').parse::<i64>().unwrap_or(25) * replicas / 100
                }
                Value::Number(n) => n.as_i64().unwrap_or(0),
                _ => 0,
            };
            let complete = updated == replicas && total == replicas && available == replicas;
            let old = d["status"]["conditions"].clone();
            let sys = self.sys;
            let cond = |type_: &str, status: &str, reason: &str, message: String| {
                let prev = old
                    .as_array()
                    .and_then(|c| c.iter().find(|c| c["type"] == type_))
                    .cloned();
                let now = rfc3339(sys);
                let same = prev
                    .as_ref()
                    .is_some_and(|p| p["status"] == status && p["reason"] == reason);
                let (upd, trans) = match &prev {
                    Some(p) if same => {
                        (p["lastUpdateTime"].clone(), p["lastTransitionTime"].clone())
                    }
                    Some(p) if p["status"] == status => {
                        (json!(now), p["lastTransitionTime"].clone())
                    }
                    _ => (json!(now), json!(now)),
                };
                json!({"type": type_, "status": status, "lastUpdateTime": upd, "lastTransitionTime": trans, "reason": reason, "message": message})
            };
            let available_cond = if available >= replicas - max_unavailable {
                cond(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.".into(),
                )
            } else {
                cond(
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.".into(),
                )
            };
            let failing = matches!(
                Self::behavior(st, "Deployment", &ns, &name_of(&d)),
                Some(Behavior::Fail(_))
            );
            let timed_out = failing && self.due(seen_at, st.options.ready_after * 4);
            let progressing = if complete {
                cond(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
                )
            } else if timed_out {
                cond(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                )
            } else if new_rs.is_some() {
                cond(
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    format!("ReplicaSet \"{rs_name}\" is progressing."),
                )
            } else {
                continue;
            };
            let mut status = json!({
                "observedGeneration": generation_now, "replicas": total, "updatedReplicas": updated, "readyReplicas": ready,
                "availableReplicas": available, "conditions": [available_cond, progressing],
            });
            if total - available > 0 {
                status["unavailableReplicas"] = json!(total.max(replicas) - available);
            }
            for k in [
                "replicas",
                "updatedReplicas",
                "readyReplicas",
                "availableReplicas",
            ] {
                if status[k] == 0 {
                    status.as_object_mut().map(|m| m.remove(k));
                }
            }
            self.set_status(st, "apps", "deployments", &d, status, KCM);
        }
    }

    fn replicasets(&mut self, st: &mut State) {
        let g = gr("apps", "replicasets");
        let work = self.begin(st, Stage::ReplicaSets);
        for rs in work.objects(st, &g) {
            self.focus(Stage::ReplicaSets, &g, &rs);
            if deleting(&rs) {
                continue;
            }
            let ns = ns_of(&rs);
            let desired = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
            let pods: Vec<Arc<Value>> = Self::owned(st, "", "pods", &ns, &uid_of(&rs))
                .into_iter()
                .filter(|p| !deleting(p))
                .collect();
            if pods.len() < desired {
                for _ in pods.len()..desired {
                    let name = format!("{}-{}", name_of(&rs), st.store.suffix(5));
                    self.create_pod(
                        st,
                        &rs,
                        &rs["spec"]["template"],
                        &name,
                        json!({}),
                        None,
                        vec![],
                    );
                }
            } else {
                for p in pods.iter().skip(desired) {
                    Self::delete_pod(st, p);
                }
            }
            let pods: Vec<Arc<Value>> = Self::owned(st, "", "pods", &ns, &uid_of(&rs))
                .into_iter()
                .filter(|p| !deleting(p))
                .collect();
            let ready = pods.iter().filter(|p| Self::pod_ready(p)).count();
            let mut status = json!({"replicas": pods.len(), "fullyLabeledReplicas": pods.len(), "readyReplicas": ready,
                "availableReplicas": ready, "observedGeneration": generation(&rs)});
            for k in ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"] {
                if status[k] == 0 {
                    status.as_object_mut().map(|m| m.remove(k));
                }
            }
            self.set_status(st, "apps", "replicasets", &rs, status, KCM);
        }
    }

    fn statefulsets(&mut self, st: &mut State) {
        let g = gr("apps", "statefulsets");
        let work = self.begin(st, Stage::StatefulSets);
        for s in work.objects(st, &g) {
            self.focus(Stage::StatefulSets, &g, &s);
            if deleting(&s) {
                continue;
            }
            let ns = ns_of(&s);
            let name = name_of(&s);
            let desired = s["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
            let revision = format!("{name}-{}", hash_value(&s["spec"]["template"]));
            let ordered = s["spec"]["podManagementPolicy"] != "Parallel";
            let pods: Vec<Arc<Value>> = Self::owned(st, "", "pods", &ns, &uid_of(&s))
                .into_iter()
                .filter(|p| !deleting(p))
                .collect();
            let by_ordinal = |i: usize| pods.iter().find(|p| name_of(p) == format!("{name}-{i}"));
            let all_ready = pods.iter().all(|p| Self::pod_ready(p));
            // extra pods, highest first
            for p in &pods {
                let ord = name_of(p)
                    .rsplit('-')
                    .next()
                    .and_then(|o| o.parse::<usize>().ok())
                    .unwrap_or(0);
                if ord >= desired {
                    Self::delete_pod(st, p);
                }
            }
            let mut blocked = false;
            for i in 0..desired {
                match by_ordinal(i) {
                    Some(p) => {
                        if !Self::pod_ready(p) {
                            blocked = ordered;
                        }
                    }
                    None if !blocked => {
                        let pod_name = format!("{name}-{i}");
                        let mut volumes = vec![];
                        for t in s["spec"]["volumeClaimTemplates"]
                            .as_array()
                            .into_iter()
                            .flatten()
                        {
                            let tname = name_of(t);
                            let claim = format!("{tname}-{name}-{i}");
                            if st
                                .store
                                .get(&gr("", "persistentvolumeclaims"), &ns, &claim)
                                .is_none()
                            {
                                let mut pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                    "metadata": {"name": claim, "namespace": ns, "labels": s["spec"]["selector"]["matchLabels"]},
                                    "spec": t["spec"]});
                                if pvc["metadata"]["labels"].is_null() {
                                    pvc["metadata"]["labels"] = json!({});
                                }
                                st.controller_put(&gr("", "persistentvolumeclaims"), pvc, KCM);
                            }
                            volumes.push(json!({"name": tname, "persistentVolumeClaim": {"claimName": claim}}));
                        }
                        let labels = json!({"controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pod_name,
                            "apps.kubernetes.io/pod-index": i.to_string()});
                        self.create_pod(
                            st,
                            &s,
                            &s["spec"]["template"],
                            &pod_name,
                            labels,
                            None,
                            volumes,
                        );
                        blocked = ordered;
                    }
                    None => {}
                }
            }
            // rolling update: replace the highest outdated pod once everything is ready
            if all_ready && pods.len() >= desired {
                if let Some(p) = pods
                    .iter()
                    .filter(|p| {
                        p["metadata"]["labels"]["controller-revision-hash"] != revision.as_str()
                    })
                    .max_by_key(|p| name_of(p))
                {
                    Self::delete_pod(st, p);
                }
            }
            let pods: Vec<Arc<Value>> = Self::owned(st, "", "pods", &ns, &uid_of(&s))
                .into_iter()
                .filter(|p| !deleting(p))
                .collect();
            let ready = pods.iter().filter(|p| Self::pod_ready(p)).count();
            let updated = pods
                .iter()
                .filter(|p| {
                    p["metadata"]["labels"]["controller-revision-hash"] == revision.as_str()
                })
                .count();
            let current_revision = if updated == desired && ready == desired {
                revision.clone()
            } else {
                s["status"]["currentRevision"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| revision.clone())
            };
            let current = pods
                .iter()
                .filter(|p| {
                    p["metadata"]["labels"]["controller-revision-hash"] == current_revision.as_str()
                })
                .count();
            let mut status = json!({"observedGeneration": generation(&s), "replicas": pods.len(), "readyReplicas": ready,
                "currentReplicas": current, "updatedReplicas": updated, "availableReplicas": ready,
                "currentRevision": current_revision, "updateRevision": revision, "collisionCount": 0});
            for k in ["readyReplicas", "currentReplicas", "updatedReplicas"] {
                if status[k] == 0 {
                    status.as_object_mut().map(|m| m.remove(k));
                }
            }
            self.set_status(st, "apps", "statefulsets", &s, status, KCM);
        }
    }

    fn daemonsets(&mut self, st: &mut State) {
        let g = gr("apps", "daemonsets");
        let nodes: Vec<String> = Self::names(st, "", "nodes");
        let mut work = self.begin(st, Stage::DaemonSets);
        // every DaemonSet wants a pod per node
        work.full |= work.kinds.contains(&gr("", "nodes"));
        for ds in work.objects(st, &g) {
            self.focus(Stage::DaemonSets, &g, &ds);
            if deleting(&ds) {
                continue;
            }
            let ns = ns_of(&ds);
            let hash = hash_value(&ds["spec"]["template"]);
            let pods: Vec<Arc<Value>> = Self::owned(st, "", "pods", &ns, &uid_of(&ds))
                .into_iter()
                .filter(|p| !deleting(p))
                .collect();
            let node_of = |p: &Value| {
                p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"][0]["values"][0]
                .as_str()
                .unwrap_or_default()
                .to_string()
            };
            for p in pods
                .iter()
                .filter(|p| p["metadata"]["labels"]["controller-revision-hash"] != hash.as_str())
            {
                Self::delete_pod(st, p);
            }
            for node in &nodes {
                if pods.iter().any(|p| {
                    node_of(p) == *node
                        && p["metadata"]["labels"]["controller-revision-hash"] == hash.as_str()
                }) {
                    continue;
                }
                let mut t = ds["spec"]["template"].clone();
                t["spec"]["affinity"]["nodeAffinity"] = json!({"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}});
                let name = format!("{}-{}", name_of(&ds), st.store.suffix(5));
                let probe = json!({"metadata": {"name": name, "namespace": ns, "ownerReferences": [Self::owner_ref(&ds)]}});
                let node_name = Self::pick_node(st, &Self::pod_behavior(st, &probe), &name)
                    .map(|_| node.clone());
                let labels = json!({"controller-revision-hash": hash, "pod-template-generation": generation(&ds).to_string()});
                if let Some(n) = node_name {
                    self.create_pod(st, &ds, &t, &name, labels, Some(n), vec![]);
                } else {
                    let mut t2 = t.clone();
                    t2["spec"]["nodeName"] = Value::Null;
                    self.create_pod(st, &ds, &t2, &name, labels, None, vec![]);
                }
            }
            let pods: Vec<Arc<Value>> = Self::owned(st, "", "pods", &ns, &uid_of(&ds))
                .into_iter()
                .filter(|p| !deleting(p))
                .collect();
            let scheduled = pods
                .iter()
                .filter(|p| p["spec"]["nodeName"].is_string())
                .count();
            let updated = pods
                .iter()
                .filter(|p| p["metadata"]["labels"]["controller-revision-hash"] == hash.as_str())
                .count();
            let ready = pods.iter().filter(|p| Self::pod_ready(p)).count();
            let mut status = json!({"observedGeneration": generation(&ds), "desiredNumberScheduled": nodes.len(),
                "currentNumberScheduled": scheduled, "updatedNumberScheduled": updated, "numberReady": ready,
                "numberAvailable": ready, "numberMisscheduled": 0});
            if nodes.len() > ready {
                status["numberUnavailable"] = json!(nodes.len() - ready);
            }
            if ready == 0 {
                status.as_object_mut().map(|m| m.remove("numberAvailable"));
            }
            self.set_status(st, "apps", "daemonsets", &ds, status, KCM);
        }
    }

    fn jobs(&mut self, st: &mut State) {
        let g = gr("batch", "jobs");
        let work = self.begin(st, Stage::Jobs);
        for job in work.objects(st, &g) {
            self.focus(Stage::Jobs, &g, &job);
            if deleting(&job) || job["spec"]["suspend"] == true {
                continue;
            }
            let ns = ns_of(&job);
            let name = name_of(&job);
            let finished = job["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter().any(|c| {
                    (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True"
                })
            });
            if finished {
                continue;
            }
            let (_, started) = self.seen(st, &uid_of(&job), 0);
            let pods = Self::owned(st, "", "pods", &ns, &uid_of(&job));
            if pods.is_empty() {
                let pod_name = format!("{name}-{}", st.store.suffix(5));
                let mut t = job["spec"]["template"].clone();
                if t["spec"].get("restartPolicy").is_none() {
                    t["spec"]["restartPolicy"] = json!("Never");
                }
                self.create_pod(st, &job, &t, &pod_name, json!({}), None, vec![]);
            }
            let pods = Self::owned(st, "", "pods", &ns, &uid_of(&job));
            let phase = |p: &Value| {
                p["status"]["phase"]
                    .as_str()
                    .unwrap_or("Pending")
                    .to_string()
            };
            let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count();
            let failed = pods.iter().filter(|p| phase(p) == "Failed").count();
            let active = pods.len() - succeeded - failed;
            let ready = pods.iter().filter(|p| Self::pod_ready(p)).count();
            let now = rfc3339(self.sys);
            let mut status = json!({"startTime": job["status"]["startTime"].as_str().map(str::to_string).unwrap_or_else(|| rfc3339(started)),
                "active": active, "ready": ready, "terminating": 0, "uncountedTerminatedPods": {}});
            if active == 0 {
                status.as_object_mut().map(|m| m.remove("active"));
            }
            if succeeded > 0 {
                status["succeeded"] = json!(succeeded);
                status["completionTime"] = json!(now);
                status["conditions"] = json!([
                    {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                     "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
                    {"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                     "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
                ]);
                self.event(
                    st,
                    &job,
                    "Normal",
                    "Completed",
                    "Job completed",
                    "job-controller",
                );
            } else if failed > 0 {
                status["failed"] = json!(failed);
                status["conditions"] = json!([
                    {"type": "FailureTarget", "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                     "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
                    {"type": "Failed", "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                     "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
                ]);
                self.event(
                    st,
                    &job,
                    "Warning",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    "job-controller",
                );
            }
            self.set_status(st, "batch", "jobs", &job, status, KCM);
        }
    }

    // ---- Volumes -------------------------------------------------------------

    fn pvcs(&mut self, st: &mut State) {
        let g = gr("", "persistentvolumeclaims");
        let classes = Self::objects(st, "storage.k8s.io", "storageclasses");
        let mut work = self.begin(st, Stage::Pvcs);
        work.full |= work.kinds.contains(&gr("storage.k8s.io", "storageclasses"));
        // a claim waits on the pods (and events) of its namespace
        for pvc in work.objects_and_in(st, &g, &work.namespaces) {
            self.focus(Stage::Pvcs, &g, &pvc);
            // A claim naming its volume is the volume controller's to bind.
            if deleting(&pvc)
                || pvc["status"]["phase"] == "Bound"
                || pvc["spec"]["volumeName"].is_string()
            {
                continue;
            }
            let ns = ns_of(&pvc);
            let name = name_of(&pvc);
            let behavior = Self::behavior(st, "PersistentVolumeClaim", &ns, &name)
                .unwrap_or_else(|| Self::default_behavior(st));
            let class_name = pvc["spec"]["storageClassName"].as_str().map(str::to_string);
            let class = classes.iter().find(|c| Some(name_of(c)) == class_name);
            let wffc = class.is_some_and(|c| c["volumeBindingMode"] == "WaitForFirstConsumer");
            match (class, &class_name) {
                (Some(class), _) if !wffc => self.provisioning(st, &pvc, class),
                (None, Some(missing)) if !missing.is_empty() => {
                    // No class, no provisioner: the claim stays Pending.
                    self.no_class(st, &pvc, missing);
                    continue;
                }
                _ => {}
            }
            let after = match behavior {
                Behavior::Ready { after } => after,
                _ => continue,
            };
            let start = if wffc {
                let consumer = st.store.list(&gr("", "pods"), Some(&ns)).iter().any(|p| {
                    let p = &p.obj;
                    p["spec"]["nodeName"].is_string()
                        && p["spec"]["volumes"].as_array().is_some_and(|v| {
                            v.iter()
                                .any(|v| v["persistentVolumeClaim"]["claimName"] == name.as_str())
                        })
                });
                if !consumer {
                    if st
                        .store
                        .get(&gr("", "events"), &ns, &format!("{name}.wffc"))
                        .is_none()
                    {
                        self.event(
                            st,
                            &pvc,
                            "Normal",
                            "WaitForFirstConsumer",
                            "waiting for first consumer to be created before binding",
                            "persistentvolume-controller",
                        );
                    }
                    // as every pass did: the event above is written again and again
                    self.revisit();
                    continue;
                }
                self.seen(st, &uid_of(&pvc), -1).0
            } else {
                self.seen(st, &uid_of(&pvc), 0).0
            };
            if !self.due(start, after) {
                continue;
            }
            let volume = format!("pvc-{}", uid_of(&pvc));
            let mut p = Value::clone(&pvc);
            p["spec"]["volumeName"] = json!(volume);
            p["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] = json!("yes");
            p["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] = json!("yes");
            if let Some(m) = p["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
            st.controller_put(&gr("", "persistentvolumeclaims"), p, KCM);
            let storage = pvc["spec"]["resources"]["requests"]["storage"].clone();
            let status = json!({"phase": "Bound", "accessModes": pvc["spec"]["accessModes"], "capacity": {"storage": storage}});
            self.set_status(st, "", "persistentvolumeclaims", &pvc, status, KCM);
        }
    }

    // ---- Operators -----------------------------------------------------------

    /// What prometheus-operator does for its custom resources: once the
    /// resource's behaviour says ready, report `Available` and `Reconciled`
    /// for the generation it saw (other custom resources get no status, as
    /// with no operator running).
    fn operators(&mut self, st: &mut State) {
        let work = self.begin(st, Stage::Operators);
        for plural in ["prometheuses", "alertmanagers"] {
            let g = gr("monitoring.coreos.com", plural);
            let kind = if plural == "prometheuses" {
                "Prometheus"
            } else {
                "Alertmanager"
            };
            for cr in work.objects(st, &g) {
                self.focus(Stage::Operators, &g, &cr);
                let generation = generation(&cr);
                if deleting(&cr) || cr["status"]["observedGeneration"] == generation {
                    continue;
                }
                let behavior = Self::behavior(st, kind, &ns_of(&cr), &name_of(&cr))
                    .unwrap_or_else(|| Self::default_behavior(st));
                let Behavior::Ready { after } = behavior else {
                    continue;
                };
                let start = self.seen(st, &uid_of(&cr), generation).0;
                if !self.due(start, after) {
                    continue;
                }
                let replicas = cr["spec"]["replicas"].as_i64().unwrap_or(1);
                let condition = |kind: &str| {
                    json!({"type": kind, "status": "True", "reason": "", "observedGeneration": generation,
                           "lastTransitionTime": "2026-01-01T00:00:00Z"})
                };
                let status = json!({
                    "observedGeneration": generation,
                    "replicas": replicas, "availableReplicas": replicas, "updatedReplicas": replicas,
                    "conditions": [condition("Available"), condition("Reconciled")],
                });
                self.set_status(
                    st,
                    "monitoring.coreos.com",
                    plural,
                    &cr,
                    status,
                    "prometheus-operator",
                );
            }
        }
    }

    // ---- Kubelet -------------------------------------------------------------

    fn kubelet(&mut self, st: &mut State) {
        let g = gr("", "pods");
        let work = self.begin(st, Stage::Kubelet);
        // a pod waits on the claims of its namespace
        let claims_changed = work.namespaces_of(&gr("", "persistentvolumeclaims"));
        for pod in work.objects_and_in(st, &g, &claims_changed) {
            self.focus(Stage::Kubelet, &g, &pod);
            if deleting(&pod) {
                continue;
            }
            let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
            if phase == "Succeeded" || phase == "Failed" {
                continue;
            }
            let behavior = Self::pod_behavior(st, &pod);
            let (seen_at, seen_sys) = self.seen(st, &uid_of(&pod), 0);
            let job_pod = pod["metadata"]["ownerReferences"][0]["kind"] == "Job";
            let ns = ns_of(&pod);
            let pvcs_bound =
                pod["spec"]["volumes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|v| match v["persistentVolumeClaim"]["claimName"].as_str() {
                        None => true,
                        Some(c) => st
                            .store
                            .get(&gr("", "persistentvolumeclaims"), &ns, c)
                            .is_some_and(|p| p.obj["status"]["phase"] == "Bound"),
                    });
            let created = rfc3339(seen_sys);
            let scheduled = pod["spec"]["nodeName"].is_string();
            if !scheduled
                && !scheduling::unschedulable(&behavior)
                && self.schedule(st, &pod, &behavior)
            {
                continue;
            }
            let containers: Vec<Value> = pod["spec"]["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let cond = |t: &str, s: bool| json!({"type": t, "status": if s { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": created});
            let mut status = json!({"phase": "Pending", "qosClass": "BestEffort"});
            let node_ip = pod["spec"]["nodeName"]
                .as_str()
                .and_then(|n| n.strip_prefix("node-"))
                .and_then(|n| n.parse::<u32>().ok())
                .map(|n| format!("172.18.0.{}", n + 1));
            if let Some(ip) = &node_ip {
                status["hostIP"] = json!(ip);
                status["hostIPs"] = json!([{"ip": ip}]);
                status["startTime"] = json!(created);
            }
            let statuses = |state: Value, ready: bool, restarts: u64, last: Value| -> Value {
                containers
                    .iter()
                    .map(|c| {
                        let image = c["image"].as_str().unwrap_or_default();
                        let mut s = json!({"name": c["name"], "image": image, "imageID": "", "ready": ready, "restartCount": restarts,
                            "started": state.get("running").is_some(), "state": state.clone(), "lastState": last.clone()});
                        if state.get("waiting").is_none() || restarts > 0 {
                            s["containerID"] = json!(format!("containerd://{}", hash_value(&json!([c["name"], image]))));
                            s["imageID"] = json!(format!("docker.io/library/{image}@sha256:0000"));
                        }
                        if let Some(w) = state["waiting"]["message"].as_str() {
                            let msg = w.replace("IMAGE", image).replace("CONTAINER", c["name"].as_str().unwrap_or_default());
                            s["state"]["waiting"]["message"] = json!(msg);
                        }
                        s
                    })
                    .collect()
            };
            let trouble = match &behavior {
                Behavior::NeverReady(t) | Behavior::Fail(t) => Some(*t),
                _ => None,
            };
            let after = match &behavior {
                Behavior::Ready { after } => *after,
                _ => st.options.ready_after,
            };
            let mut events: Vec<(&str, &str, String)> = vec![];
            let first_image = containers
                .first()
                .and_then(|c| c["image"].as_str())
                .unwrap_or_default()
                .to_string();
            match trouble {
                Some(PodTrouble::Unschedulable) | None if !scheduled => {
                    let n = st.options.nodes;
                    let msg = format!(
                        "0/{n} nodes are available: {n} Insufficient cpu. preemption: 0/{n} nodes are available: {n} No preemption victims found for incoming pod."
                    );
                    status["conditions"] = json!([{"type": "PodScheduled", "status": "False", "lastProbeTime": null, "lastTransitionTime": created,
                        "reason": "Unschedulable", "message": msg}]);
                    events.push(("Warning", "FailedScheduling", msg));
                }
                _ if !pvcs_bound => {
                    status["conditions"] = json!([cond("PodScheduled", true)]);
                }
                Some(t) => {
                    if !self.due(seen_at, after.min(Duration::from_millis(20))) {
                        continue;
                    }
                    let base = json!([
                        cond("PodReadyToStartContainers", true),
                        cond("Initialized", true),
                        cond("Ready", false),
                        cond("ContainersReady", false),
                        cond("PodScheduled", true)
                    ]);
                    status["conditions"] = base;
                    status["podIP"] = json!(format!(
                        "10.244.0.{}",
                        hash_value(&json!(uid_of(&pod))).len() + 10
                    ));
                    match t {
                        PodTrouble::ImagePullBackOff => {
                            status["containerStatuses"] = json!(statuses(
                                json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"IMAGE\""}}),
                                false,
                                0,
                                json!({})
                            ));
                            events.push(("Warning", "Failed", format!("Failed to pull image \"{first_image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{first_image}\": not found")));
                            events.push((
                                "Normal",
                                "BackOff",
                                format!("Back-off pulling image \"{first_image}\""),
                            ));
                        }
                        PodTrouble::CrashLoopBackOff => {
                            let period = after.max(Duration::from_millis(100));
                            let elapsed = self.now.saturating_duration_since(seen_at);
                            let restarts = (elapsed.as_millis() / period.as_millis()) as u64 + 1;
                            self.wake(seen_at + period * (restarts as u32));
                            let finished = rfc3339(seen_sys + period * (restarts as u32 - 1));
                            status["phase"] = json!("Running");
                            status["containerStatuses"] = json!(statuses(
                                json!({"waiting": {"reason": "CrashLoopBackOff",
                                    "message": format!("back-off 10s restarting failed container=CONTAINER pod={}_{}({})", name_of(&pod), ns, uid_of(&pod))}}),
                                false,
                                restarts,
                                json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": finished, "finishedAt": finished}})
                            ));
                            let c0 = containers
                                .first()
                                .and_then(|c| c["name"].as_str())
                                .unwrap_or_default()
                                .to_string();
                            st.logs
                                .entry((ns.clone(), name_of(&pod)))
                                .or_insert_with(|| {
                                    vec![(c0, vec!["panic: simulated crash (testserver)".into()])]
                                });
                            events.push((
                                "Warning",
                                "BackOff",
                                format!(
                                    "Back-off restarting failed container {} in pod {}_{}({})",
                                    containers
                                        .first()
                                        .and_then(|c| c["name"].as_str())
                                        .unwrap_or_default(),
                                    name_of(&pod),
                                    ns,
                                    uid_of(&pod)
                                ),
                            ));
                        }
                        PodTrouble::NotReady => {
                            let names: Vec<&str> = containers
                                .iter()
                                .filter_map(|c| c["name"].as_str())
                                .collect();
                            let why =
                                format!("containers with unready status: [{}]", names.join(" "));
                            for c in status["conditions"].as_array_mut().into_iter().flatten() {
                                if c["type"] == "Ready" || c["type"] == "ContainersReady" {
                                    c["reason"] = json!("ContainersNotReady");
                                    c["message"] = json!(why);
                                }
                            }
                            status["phase"] = json!("Running");
                            status["containerStatuses"] = json!(statuses(
                                json!({"running": {"startedAt": created}}),
                                false,
                                0,
                                json!({})
                            ));
                            events.push((
                                "Warning",
                                "Unhealthy",
                                "Readiness probe failed: HTTP probe failed with statuscode: 503"
                                    .into(),
                            ));
                        }
                        PodTrouble::CreateContainerConfigError | PodTrouble::Unschedulable => {
                            let secret = containers
                                .iter()
                                .flat_map(|c| {
                                    let env = c["env"].as_array().cloned().unwrap_or_default();
                                    let from = c["envFrom"].as_array().cloned().unwrap_or_default();
                                    env.into_iter()
                                        .filter_map(|e| {
                                            e["valueFrom"]["secretKeyRef"]["name"]
                                                .as_str()
                                                .map(str::to_string)
                                        })
                                        .chain(from.into_iter().filter_map(|e| {
                                            e["secretRef"]["name"].as_str().map(str::to_string)
                                        }))
                                        .collect::<Vec<_>>()
                                })
                                .next()
                                .unwrap_or_else(|| "missing-secret".into());
                            let msg = format!("secret \"{secret}\" not found");
                            status["containerStatuses"] = json!(statuses(
                                json!({"waiting": {"reason": "CreateContainerConfigError", "message": msg}}),
                                false,
                                0,
                                json!({})
                            ));
                            events.push(("Warning", "Failed", format!("Error: {msg}")));
                        }
                    }
                }
                None => {
                    let ready_at = after;
                    if !self.due(seen_at, ready_at) {
                        status["conditions"] = json!([
                            cond("PodReadyToStartContainers", false),
                            cond("Initialized", true),
                            cond("Ready", false),
                            cond("ContainersReady", false),
                            cond("PodScheduled", true)
                        ]);
                        status["containerStatuses"] = json!(statuses(
                            json!({"waiting": {"reason": "ContainerCreating"}}),
                            false,
                            0,
                            json!({})
                        ));
                    } else {
                        let started = rfc3339(seen_sys + ready_at);
                        status["podIP"] = json!(format!(
                            "10.244.{}.{}",
                            seen_at.elapsed().as_nanos() % 200,
                            uid_of(&pod).len() + 2
                        ));
                        status["podIP"] = json!(format!(
                            "10.244.1.{}",
                            hash_value(&json!(uid_of(&pod)))
                                .bytes()
                                .map(|b| b as u32)
                                .sum::<u32>()
                                % 250
                                + 2
                        ));
                        status["podIPs"] = json!([{"ip": status["podIP"]}]);
                        let ended = match &behavior {
                            Behavior::JobFails { .. } if job_pod => Some((1, "Error", "Failed")),
                            _ if job_pod => Some((0, "Completed", "Succeeded")),
                            _ => None,
                        };
                        match ended {
                            Some((code, reason, phase)) => {
                                status["phase"] = json!(phase);
                                status["conditions"] = json!([
                                    cond("PodReadyToStartContainers", false),
                                    cond("Initialized", true),
                                    cond("Ready", false),
                                    cond("ContainersReady", false),
                                    cond("PodScheduled", true)
                                ]);
                                status["containerStatuses"] = json!(statuses(
                                    json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": created, "finishedAt": started}}),
                                    false,
                                    0,
                                    json!({})
                                ));
                            }
                            None => {
                                status["phase"] = json!("Running");
                                status["conditions"] = json!([
                                    cond("PodReadyToStartContainers", true),
                                    cond("Initialized", true),
                                    cond("Ready", true),
                                    cond("ContainersReady", true),
                                    cond("PodScheduled", true)
                                ]);
                                status["containerStatuses"] = json!(statuses(
                                    json!({"running": {"startedAt": started}}),
                                    true,
                                    0,
                                    json!({})
                                ));
                            }
                        }
                    }
                }
            }
            scheduling::keep_transition_times(&pod["status"], &mut status, &rfc3339(self.sys));
            if pod["status"] == status {
                continue;
            }
            let restarted = pod["status"]["containerStatuses"][0]["restartCount"]
                != status["containerStatuses"][0]["restartCount"];
            // the kubelet's first report on the pod's containers
            let first = pod["status"]["containerStatuses"].is_null();
            let scheduling = pod["status"]["conditions"].is_null();
            self.set_status(st, "", "pods", &pod, status, "kubelet");
            for (t, reason, msg) in events {
                if first || restarted || (reason == "FailedScheduling" && scheduling) {
                    self.event(
                        st,
                        &pod,
                        t,
                        reason,
                        &msg,
                        if reason == "FailedScheduling" {
                            "default-scheduler"
                        } else {
                            "kubelet"
                        },
                    );
                }
            }
        }
    }
}
