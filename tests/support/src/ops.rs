//! The API operations over the store, as the apiserver's registry runs them:
//! get/list, create, update, patch (merge, JSON, strategic), server-side apply,
//! delete with finalizers and propagation, plus defaulting, immutability,
//! generation, no-op detection, dry-run and the client write log. Both the
//! HTTP layer and the `TestServer` handle call these; the controller uses the
//! same paths with `client: false`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use crate::apply::{self, Manager, Sub};
use crate::controller::{Behavior, Target};
use crate::errors::ApiError;
use crate::faults::Fault;
use crate::resources::{Registry, ResourceDef};
use crate::selectors::Selector;
use crate::store::{Gr, Store, Stored, owner_uids, rfc3339};
use crate::{Options, Request, Write, WriteOp};

/// Who writes and how.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub manager: String,
    pub dry_run: bool,
    pub force: bool,
    /// An API client's write (logged in `writes()`), not the controller's.
    pub client: bool,
}

impl Ctx {
    pub fn client(manager: &str) -> Ctx {
        Ctx {
            manager: manager.into(),
            dry_run: false,
            force: false,
            client: true,
        }
    }
    pub fn controller(manager: &str) -> Ctx {
        Ctx {
            manager: manager.into(),
            dry_run: false,
            force: true,
            client: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
    Apply,
}

/// Everything behind the server's one lock.
pub struct State {
    pub registry: Registry,
    pub store: Store,
    pub options: Options,
    pub behaviors: Vec<(Target, Behavior)>,
    pub faults: Vec<Fault>,
    pub requests: Vec<Request>,
    pub writes: Vec<Write>,
    /// Container log lines per pod (namespace, name) and container.
    pub logs: HashMap<(String, String), Vec<(String, Vec<String>)>>,
    pub stuck_namespaces: HashSet<String>,
    /// Objects someone else makes again as soon as they are gone.
    pub recreated: Vec<Target>,
    /// Controller bookkeeping: when a (uid, generation) was first observed.
    pub observed: HashMap<(String, i64), Instant>,
    /// What access reviews deny.
    pub denials: crate::access::Denials,
    /// What each PersistentVolume holds (by name): set when it is
    /// provisioned, gone only with the volume.
    pub volume_data: HashMap<String, String>,
    ip_seq: u32,
}

fn name_of(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn ns_of(o: &Value) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// Whether `a` and `b` are equal leaving out the keys `skip`, those `nested`
/// says how to compare (`None`: plainly) — a comparison of two edited copies, without the copies.
fn equal_but(
    a: &Value,
    b: &Value,
    skip: &[&str],
    nested: &dyn Fn(&str) -> Option<fn(&Value, &Value) -> bool>,
) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let kept = |m: &serde_json::Map<String, Value>| {
        m.keys().filter(|k| !skip.contains(&k.as_str())).count()
    };
    kept(a) == kept(b)
        && a.iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .all(|(k, v)| match (b.get(k), nested(k)) {
                (None, _) => false,
                (Some(w), Some(eq)) => eq(v, w),
                (Some(w), None) => v == w,
            })
}

/// Whether a change bumps `metadata.generation`: anything but `metadata` and `status` differs.
fn spec_changed(old: &Value, new: &Value) -> bool {
    !equal_but(old, new, &["metadata", "status"], &|_| None)
}

/// Equal but for the resourceVersion and the times in `managedFields`: what a
/// no-op write leaves equal.
fn same_but_versions(a: &Value, b: &Value) -> bool {
    fn entries(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(a, b)| equal_but(a, b, &["time"], &|_| None))
            }
            _ => a == b,
        }
    }
    fn metadata(a: &Value, b: &Value) -> bool {
        equal_but(a, b, &["resourceVersion"], &|k| {
            (k == "managedFields").then_some(entries as fn(&Value, &Value) -> bool)
        })
    }
    equal_but(a, b, &[], &|k| {
        (k == "metadata").then_some(metadata as fn(&Value, &Value) -> bool)
    })
}

impl State {
    pub fn new(options: Options) -> State {
        State {
            registry: Registry::builtin(),
            store: Store::new(options.history),
            options,
            behaviors: vec![],
            faults: vec![],
            requests: vec![],
            writes: vec![],
            logs: HashMap::new(),
            stuck_namespaces: HashSet::new(),
            recreated: vec![],
            observed: HashMap::new(),
            denials: Default::default(),
            volume_data: HashMap::new(),
            ip_seq: 10,
        }
    }

    pub fn def_by_gr(&self, gr: &Gr) -> Option<ResourceDef> {
        self.registry.by_gr(&gr.0, &gr.1).cloned()
    }

    /// An object as read at `def`'s version.
    pub fn present(def: &ResourceDef, obj: &Value) -> Value {
        let mut o = obj.clone();
        o["apiVersion"] = json!(def.api_version());
        o
    }

    pub fn get(&self, def: &ResourceDef, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.store
            .get(&def.gr(), ns, name)
            .map(|s| Self::present(def, &s.obj))
            .ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))
    }

    pub fn list(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        labels: &Selector,
        fields: &Selector,
    ) -> Value {
        let items: Vec<Value> = self
            .store
            .list(&def.gr(), ns)
            .into_iter()
            .filter(|s| labels.matches(&s.obj) && fields.matches(&s.obj))
            .map(|s| {
                let mut o = Self::present(def, &s.obj);
                if def.crd.is_none() {
                    if let Some(m) = o.as_object_mut() {
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                }
                o
            })
            .collect();
        json!({
            "kind": format!("{}List", def.kind),
            "apiVersion": def.api_version(),
            "metadata": { "resourceVersion": self.store.rv().to_string() },
            "items": items,
        })
    }

    fn next_ip(&mut self) -> String {
        self.ip_seq += 1;
        format!("10.96.{}.{}", self.ip_seq / 250, self.ip_seq % 250 + 1)
    }

    fn default_storage_class(&self) -> Option<String> {
        let gr = ("storage.k8s.io".to_string(), "storageclasses".to_string());
        self.store
            .list(&gr, None)
            .into_iter()
            .find(|s| {
                s.obj["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"]
                    == "true"
            })
            .map(|s| name_of(&s.obj).to_string())
    }

    fn check_namespace(&self, def: &ResourceDef, ns: &str, name: &str) -> Result<(), ApiError> {
        if !def.namespaced {
            return Ok(());
        }
        let gr = (String::new(), "namespaces".to_string());
        match self.store.get(&gr, "", ns) {
            None => Err(ApiError::not_found("", "namespaces", ns)),
            Some(n) if !n.obj["metadata"]["deletionTimestamp"].is_null() => Err(
                ApiError::namespace_terminating(&def.group, &def.plural, name, ns),
            ),
            Some(_) => Ok(()),
        }
    }

    /// Checks an incoming object's identity against the request.
    fn check_body(
        def: &ResourceDef,
        body: &Value,
        ns: &str,
        name: Option<&str>,
    ) -> Result<(), ApiError> {
        let kind = body["kind"].as_str().unwrap_or_default();
        let av = body["apiVersion"].as_str().unwrap_or_default();
        if kind.is_empty() {
            return Err(ApiError::bad_request(
                "Object 'Kind' is missing in the request body",
            ));
        }
        if av.is_empty() {
            return Err(ApiError::bad_request(
                "Object 'apiVersion' is missing in the request body",
            ));
        }
        if kind != def.kind || av != def.api_version() {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                def.api_version()
            )));
        }
        if let (Some(url), Some(b)) = (name, body["metadata"]["name"].as_str()) {
            if url != b {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({b}) does not match the name on the URL ({url})"
                )));
            }
        }
        if let Some(b) = body["metadata"]["namespace"].as_str() {
            if def.namespaced && !b.is_empty() && b != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        Ok(())
    }

    /// Finishes a write: server fields, defaults, validation, generation,
    /// ownership bookkeeping, no-op detection, dry-run, persistence, logs.
    fn commit(
        &mut self,
        def: &ResourceDef,
        old: Option<Stored>,
        mut obj: Value,
        mut managers: Vec<Manager>,
        ctx: &Ctx,
    ) -> Result<Value, ApiError> {
        let ns = if def.namespaced {
            ns_of(&obj).to_string()
        } else {
            String::new()
        };
        let name = name_of(&obj).to_string();
        let now = SystemTime::now();
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        match &old {
            Some(old) => {
                for k in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "generation",
                    "resourceVersion",
                ] {
                    match old.obj["metadata"].get(k) {
                        Some(v) => obj["metadata"][k] = v.clone(),
                        None => {
                            if let Some(m) = obj["metadata"].as_object_mut() {
                                m.remove(k);
                            }
                        }
                    }
                }
                // A deleting object may lose finalizers but gain none.
                if !old.obj["metadata"]["deletionTimestamp"].is_null() {
                    let old_f: Vec<Value> = old.obj["metadata"]["finalizers"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    if let Some(f) = obj["metadata"]["finalizers"].as_array_mut() {
                        f.retain(|x| old_f.contains(x));
                    }
                }
            }
            None => {
                self.check_namespace(def, &ns, &name)?;
                let uid = self.store.uid();
                let md = &mut obj["metadata"];
                md["uid"] = json!(uid);
                md["creationTimestamp"] = json!(rfc3339(now));
                md["generation"] = json!(1);
                if let Some(m) = md.as_object_mut() {
                    m.remove("resourceVersion");
                    m.remove("deletionTimestamp");
                }
                if def.kind == "PersistentVolumeClaim"
                    && def.group.is_empty()
                    && obj["spec"].get("storageClassName").is_none()
                {
                    if let Some(sc) = self.default_storage_class() {
                        obj["spec"]["storageClassName"] = json!(sc);
                    }
                }
            }
        }
        if !def.namespaced {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("namespace");
            }
        }
        let old_obj = old.as_ref().map(|o| &*o.obj);
        let mut ip = || String::new();
        let mut ips = vec![];
        if def.kind == "Service" && def.group.is_empty() {
            ips.push(self.next_ip());
        }
        let mut next = ips.into_iter();
        let mut alloc = || next.next().unwrap_or_else(&mut ip);
        crate::defaults::apply(&def.group, &def.kind, &mut obj, old_obj, &mut alloc);
        let causes = crate::defaults::validate(&def.group, &def.kind, &obj, old_obj);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&def.group, &def.kind, &name, &causes));
        }
        if let Some(old) = old_obj {
            let old_gen = old["metadata"]["generation"].as_i64().unwrap_or(1);
            let bump = spec_changed(old, &obj);
            obj["metadata"]["generation"] = json!(if bump { old_gen + 1 } else { old_gen });
        }
        apply::prune_missing(&mut managers, &obj, def.status);
        let mut stored = Stored {
            obj: Arc::new(obj),
            managers,
        };
        apply::render_managed_fields(&mut stored);
        if let Some(old) = &old {
            if same_but_versions(&old.obj, &stored.obj) {
                return Ok(Self::present(def, &old.obj));
            }
        }
        if ctx.dry_run {
            return Ok(Self::present(def, &stored.obj));
        }
        let gr = def.gr();
        // The last finalizer gone from a deleting object: it goes.
        let deleting = !stored.obj["metadata"]["deletionTimestamp"].is_null();
        if deleting
            && stored.obj["metadata"]["finalizers"]
                .as_array()
                .is_none_or(|f| f.is_empty())
        {
            self.log_write(ctx, WriteOp::Update, def, &ns, &name);
            let gone = self
                .store
                .remove(&gr, &ns, &name)
                .map(|s| s.obj)
                .unwrap_or_default();
            self.after_removal(def, &gone);
            return Ok(Self::present(def, &gone));
        }
        let op = if old.is_some() {
            WriteOp::Update
        } else {
            WriteOp::Create
        };
        self.log_write(ctx, op, def, &ns, &name);
        let out = self.store.put(&gr, stored);
        if def.kind == "CustomResourceDefinition" && def.crd.is_none() {
            self.registry.register_crd(&out);
        }
        Ok(Self::present(def, &out))
    }

    fn log_write(&mut self, ctx: &Ctx, op: WriteOp, def: &ResourceDef, ns: &str, name: &str) {
        if ctx.client {
            self.writes.push(Write {
                op,
                kind: def.kind.clone(),
                namespace: (!ns.is_empty()).then(|| ns.to_string()),
                name: name.to_string(),
                manager: ctx.manager.clone(),
            });
        }
    }

    /// POST.
    pub fn create(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        mut body: Value,
        ctx: &Ctx,
    ) -> Result<Value, ApiError> {
        Self::check_body(def, &body, ns, None)?;
        if body["metadata"]["name"].as_str().is_none_or(str::is_empty) {
            match body["metadata"]["generateName"].as_str() {
                Some(prefix) => {
                    let n = format!("{prefix}{}", self.store.suffix(5));
                    body["metadata"]["name"] = json!(n);
                }
                None => {
                    return Err(ApiError::invalid(
                        &def.group,
                        &def.kind,
                        "",
                        &[(
                            "metadata.name".into(),
                            "Required value: name or generateName is required".into(),
                        )],
                    ));
                }
            }
        }
        let name = name_of(&body).to_string();
        if def.namespaced {
            body["metadata"]["namespace"] = json!(ns);
        }
        if self
            .store
            .get(&def.gr(), if def.namespaced { ns } else { "" }, &name)
            .is_some()
        {
            return Err(ApiError::already_exists(&def.group, &def.plural, &name));
        }
        if def.status {
            if let Some(m) = body.as_object_mut() {
                m.remove("status");
            }
        }
        let mut managers = vec![];
        let time = rfc3339(SystemTime::now());
        apply::update_ownership(
            &mut managers,
            None,
            &body,
            &ctx.manager,
            &def.api_version(),
            Sub::Main,
            def.status,
            &time,
        );
        self.commit(def, None, body, managers, ctx)
    }

    fn existing(&self, def: &ResourceDef, ns: &str, name: &str) -> Result<Stored, ApiError> {
        self.store
            .get(&def.gr(), if def.namespaced { ns } else { "" }, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&def.group, &def.plural, name))
    }

    /// PUT, on the main resource or `/status`.
    pub fn update(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        body: Value,
        sub: Sub,
        ctx: &Ctx,
    ) -> Result<Value, ApiError> {
        Self::check_body(def, &body, ns, Some(name))?;
        let old = self.existing(def, ns, name)?;
        if let Some(rv) = body["metadata"]["resourceVersion"].as_str() {
            if !rv.is_empty() && Some(rv) != old.obj["metadata"]["resourceVersion"].as_str() {
                return Err(ApiError::stale(&def.group, &def.plural, name));
            }
        }
        self.write_full(def, old, body, sub, ctx)
    }

    /// Takes a full new object for the main resource or `/status` and commits it.
    fn write_full(
        &mut self,
        def: &ResourceDef,
        mut old: Stored,
        body: Value,
        sub: Sub,
        ctx: &Ctx,
    ) -> Result<Value, ApiError> {
        let mut obj = match sub {
            Sub::Status => {
                let mut o = Value::clone(&old.obj);
                match body.get("status") {
                    Some(s) => o["status"] = s.clone(),
                    None => {
                        if let Some(m) = o.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                o
            }
            Sub::Main | Sub::Scale => {
                let mut o = body;
                if def.status {
                    match old.obj.get("status") {
                        Some(s) => o["status"] = s.clone(),
                        None => {
                            if let Some(m) = o.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
                o
            }
        };
        let sent = obj["metadata"].get("managedFields").cloned();
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("managedFields");
            m.insert("name".into(), old.obj["metadata"]["name"].clone());
            if def.namespaced {
                m.insert("namespace".into(), old.obj["metadata"]["namespace"].clone());
            }
        }
        // `commit` reads only the old object
        let mut managers =
            crate::managed::requested(sent.as_ref(), sub, std::mem::take(&mut old.managers));
        let time = rfc3339(SystemTime::now());
        let sub_split = def.status || sub == Sub::Status;
        apply::update_ownership(
            &mut managers,
            Some(&old.obj),
            &obj,
            &ctx.manager,
            &def.api_version(),
            sub,
            sub_split,
            &time,
        );
        self.commit(def, Some(old), obj, managers, ctx)
    }

    /// PATCH (not apply).
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        kind: PatchType,
        patch: Value,
        sub: Sub,
        ctx: &Ctx,
    ) -> Result<Value, ApiError> {
        let old = self.existing(def, ns, name)?;
        let mut obj = Value::clone(&old.obj);
        match kind {
            PatchType::Merge => merge_patch(&mut obj, &patch),
            PatchType::Strategic => strategic_patch(&mut obj, &patch),
            PatchType::Json => json_patch(&mut obj, &patch)?,
            PatchType::Apply => unreachable!("apply is not a plain patch"),
        }
        if let Some(rv) = patch["metadata"]["resourceVersion"].as_str() {
            if Some(rv) != old.obj["metadata"]["resourceVersion"].as_str() {
                return Err(ApiError::stale(&def.group, &def.plural, name));
            }
        }
        self.write_full(def, old, obj, sub, ctx)
    }

    /// Server-side apply (PATCH `application/apply-patch+yaml`).
    pub fn apply(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        body: Value,
        sub: Sub,
        ctx: &Ctx,
    ) -> Result<Value, ApiError> {
        Self::check_body(def, &body, ns, Some(name))?;
        let existing = self
            .store
            .get(&def.gr(), if def.namespaced { ns } else { "" }, name)
            .cloned();
        let status_split = def.status || sub == Sub::Status;
        let config = apply::view(&body, sub, status_split);
        let time = rfc3339(SystemTime::now());
        let (live, managers) = match &existing {
            Some(s) => {
                let mut o = Value::clone(&s.obj);
                if let Some(m) = o["metadata"].as_object_mut() {
                    m.remove("managedFields");
                }
                (o, s.managers.clone())
            }
            None => {
                if sub == Sub::Status {
                    return Err(ApiError::not_found(&def.group, &def.plural, name));
                }
                let mut md = json!({ "name": name });
                if def.namespaced {
                    md["namespace"] = json!(ns);
                }
                (
                    json!({ "apiVersion": def.api_version(), "kind": def.kind, "metadata": md }),
                    vec![],
                )
            }
        };
        let applied = apply::apply(
            &live,
            &managers,
            &config,
            &ctx.manager,
            &def.api_version(),
            sub,
            status_split,
            ctx.force,
            &time,
        )?;
        self.commit(def, existing, applied.object, applied.managers, ctx)
    }

    /// DELETE.
    pub fn delete(
        &mut self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        propagation: Option<&str>,
        ctx: &Ctx,
    ) -> Result<Value, ApiError> {
        let old = self.existing(def, ns, name)?;
        let ns = if def.namespaced { ns } else { "" };
        let finalizers = old.obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        let is_namespace = def.group.is_empty() && def.kind == "Namespace";
        let foreground = propagation == Some("Foreground");
        if ctx.dry_run {
            return Ok(Self::present(def, &old.obj));
        }
        if !old.obj["metadata"]["deletionTimestamp"].is_null() {
            return Ok(Self::present(def, &old.obj));
        }
        if finalizers || is_namespace || foreground {
            let mut s = old.clone();
            let obj = Arc::make_mut(&mut s.obj);
            obj["metadata"]["deletionTimestamp"] = json!(rfc3339(SystemTime::now()));
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if is_namespace {
                obj["status"]["phase"] = json!("Terminating");
            }
            if foreground {
                let f = obj["metadata"]["finalizers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let mut f: Vec<Value> = f
                    .into_iter()
                    .filter(|x| x != "foregroundDeletion")
                    .collect();
                f.push(json!("foregroundDeletion"));
                obj["metadata"]["finalizers"] = json!(f);
            }
            self.log_write(ctx, WriteOp::Delete, def, ns, name);
            let out = self.store.put(&def.gr(), s);
            return Ok(Self::present(def, &out));
        }
        if propagation == Some("Orphan") {
            self.orphan_dependents(old.uid());
        }
        self.log_write(ctx, WriteOp::Delete, def, ns, name);
        let gone = self
            .store
            .remove(&def.gr(), ns, name)
            .map(|s| s.obj)
            .unwrap_or_default();
        self.after_removal(def, &gone);
        let mut details =
            json!({ "name": name, "kind": def.plural, "uid": gone["metadata"]["uid"] });
        if !def.group.is_empty() {
            details["group"] = json!(def.group);
        }
        Ok(
            json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details }),
        )
    }

    /// Removes an object now, bypassing finalizers (the controller's final step).
    pub fn remove_now(&mut self, gr: &Gr, ns: &str, name: &str) {
        if let Some(s) = self.store.remove(gr, ns, name) {
            if let Some(def) = self.def_by_gr(gr) {
                self.after_removal(&def, &s.obj);
            }
        }
    }

    fn after_removal(&mut self, def: &ResourceDef, gone: &Value) {
        let (ns, name) = (ns_of(gone), name_of(gone));
        if self
            .recreated
            .iter()
            .any(|t| t.matches(&def.kind, ns, name))
        {
            // Same name and spec, a new uid, none of the old labels.
            let again = json!({
                "apiVersion": def.api_version(), "kind": def.kind,
                "metadata": {"name": name, "namespace": ns}, "spec": gone["spec"],
            });
            let _ = self.create(def, ns, again, &Ctx::client("someone-else"));
        }
        if def.kind == "CustomResourceDefinition" && def.crd.is_none() {
            let crd = name_of(gone).to_string();
            for gr in self.registry.unregister_crd(&crd) {
                let keys: Vec<(String, String)> = self
                    .store
                    .list(&gr, None)
                    .iter()
                    .map(|s| (ns_of(&s.obj).to_string(), name_of(&s.obj).to_string()))
                    .collect();
                for (ns, n) in keys {
                    self.store.remove(&gr, &ns, &n);
                }
            }
        }
        if def.kind == "PersistentVolume" {
            self.volume_data.remove(name);
        }
        if def.kind == "Pod" {
            self.logs
                .remove(&(ns_of(gone).to_string(), name_of(gone).to_string()));
        }
    }

    fn orphan_dependents(&mut self, uid: &str) {
        let deps: Vec<(Gr, Stored)> = self
            .store
            .all()
            .into_iter()
            .filter(|(_, s)| owner_uids(&s.obj).iter().any(|u| u == uid))
            .map(|(gr, s)| (gr.clone(), s.clone()))
            .collect();
        for (gr, mut s) in deps {
            if let Some(refs) =
                Arc::make_mut(&mut s.obj)["metadata"]["ownerReferences"].as_array_mut()
            {
                refs.retain(|r| r["uid"] != uid);
            }
            self.store.put(&gr, s);
        }
    }

    /// A controller write of a whole object (`kube-controller-manager`, main resource).
    pub fn controller_put(&mut self, gr: &Gr, obj: Value, manager: &str) {
        let Some(def) = self.def_by_gr(gr) else {
            return;
        };
        let ctx = Ctx::controller(manager);
        let ns = ns_of(&obj).to_string();
        let name = name_of(&obj).to_string();
        let r = match self.existing(&def, &ns, &name) {
            Ok(old) => self.write_full(&def, old, obj, Sub::Main, &ctx),
            Err(_) => self.create(&def, &ns, obj, &ctx),
        };
        if let Err(e) = r {
            eprintln!(
                "testserver: controller write of {}/{name} failed: {}",
                def.kind, e.message
            );
        }
    }

    /// A controller write of `.status` (`kubelet`/`kube-controller-manager`, status subresource).
    pub fn controller_status(
        &mut self,
        gr: &Gr,
        ns: &str,
        name: &str,
        status: Value,
        manager: &str,
    ) {
        let Some(def) = self.def_by_gr(gr) else {
            return;
        };
        // Compare before cloning: most passes find the status as it was.
        let unchanged = self
            .store
            .get(gr, if def.namespaced { ns } else { "" }, name)
            .is_none_or(|s| s.obj.get("status") == Some(&status));
        if unchanged {
            return;
        }
        let Ok(old) = self.existing(&def, ns, name) else {
            return;
        };
        let sub = if def.status { Sub::Status } else { Sub::Main };
        // a status write reads only the body's status
        let mut body = match sub {
            Sub::Status => json!({}),
            Sub::Main | Sub::Scale => Value::clone(&old.obj),
        };
        body["status"] = status;
        if let Err(e) = self.write_full(&def, old, body, sub, &Ctx::controller(manager)) {
            eprintln!(
                "testserver: controller status write of {}/{name} failed: {}",
                def.kind, e.message
            );
        }
    }
}

/// RFC 7386.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Strategic merge, approximated: a merge patch whose keyed lists merge by key.
pub fn strategic_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (t @ Value::Object(_), Value::Object(p)) => {
            let t = t.as_object_mut().expect("object");
            for (k, v) in p {
                if k.starts_with("$") {
                    continue;
                }
                if v.is_null() {
                    t.remove(k);
                } else {
                    match t.get_mut(k) {
                        Some(tv) => strategic_patch(tv, v),
                        None => {
                            t.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        (t @ Value::Array(_), Value::Array(_)) => {
            let mut merged = t.clone();
            apply::merge(&mut merged, patch);
            *t = merged;
        }
        (t, p) => *t = p.clone(),
    }
}

fn pointer_parts(p: &str) -> Vec<String> {
    p.split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// RFC 6902: add, remove, replace, test.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let bad = |m: &str| {
        ApiError::new(
            422,
            "Invalid",
            format!("the server rejected our request due to an error in our request: {m}"),
        )
    };
    for op in patch
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch must be an array"))?
    {
        let path = op["path"].as_str().unwrap_or_default();
        let parts = pointer_parts(path);
        let Some((last, parent)) = parts.split_last() else {
            return Err(bad("empty path"));
        };
        let parent_ptr: String = parent
            .iter()
            .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
            .collect();
        match op["op"].as_str().unwrap_or_default() {
            "test" => {
                if target.pointer(path) != Some(&op["value"]) {
                    return Err(bad(&format!("test failed at {path}")));
                }
            }
            verb @ ("add" | "replace" | "remove") => {
                let p = target
                    .pointer_mut(&parent_ptr)
                    .ok_or_else(|| bad(&format!("missing path {parent_ptr}")))?;
                match p {
                    Value::Object(m) => {
                        if verb == "remove" {
                            m.remove(last)
                                .ok_or_else(|| bad(&format!("missing path {path}")))?;
                        } else {
                            m.insert(last.clone(), op["value"].clone());
                        }
                    }
                    Value::Array(a) => {
                        let idx = if last == "-" {
                            a.len()
                        } else {
                            last.parse().map_err(|_| bad("bad index"))?
                        };
                        match verb {
                            "add" if idx <= a.len() => a.insert(idx, op["value"].clone()),
                            "replace" if idx < a.len() => a[idx] = op["value"].clone(),
                            "remove" if idx < a.len() => {
                                a.remove(idx);
                            }
                            _ => return Err(bad("index out of range")),
                        }
                    }
                    _ => return Err(bad(&format!("not a container at {parent_ptr}"))),
                }
            }
            other => return Err(bad(&format!("unsupported op {other}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clone-and-edit definitions the comparisons above stand for.
    fn spec_part(o: &Value) -> Value {
        let mut v = o.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            m.remove("status");
        }
        v
    }
    fn comparable(obj: &Value) -> Value {
        let mut v = obj.clone();
        if let Some(md) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            md.remove("resourceVersion");
            if let Some(Value::Array(mf)) = md.get_mut("managedFields") {
                for e in mf {
                    if let Some(e) = e.as_object_mut() {
                        e.remove("time");
                    }
                }
            }
        }
        v
    }

    #[test]
    fn comparisons_match_their_clone_and_edit_definitions() {
        let mf = |t: &str, m: &str| json!({"manager": m, "time": t, "fieldsV1": {"f:spec": {}}});
        let values = [
            json!(null),
            json!(1),
            json!({}),
            json!({"spec": {"a": 1}}),
            json!({"spec": {"a": 2}}),
            json!({"spec": {"a": 1}, "status": {"x": 1}}),
            json!({"spec": {"a": 1}, "metadata": {"name": "a", "resourceVersion": "1"}}),
            json!({"spec": {"a": 1}, "metadata": {"name": "a", "resourceVersion": "2"}}),
            json!({"spec": {"a": 1}, "metadata": {"name": "b", "resourceVersion": "2"}}),
            json!({"spec": {"a": 1}, "metadata": {"resourceVersion": "2", "name": "a"}}),
            json!({"spec": {"a": 1}, "metadata": "odd"}),
            json!({"metadata": {"managedFields": [mf("t1", "a")]}}),
            json!({"metadata": {"managedFields": [mf("t2", "a")]}}),
            json!({"metadata": {"managedFields": [mf("t2", "b")]}}),
            json!({"metadata": {"managedFields": [mf("t1", "a"), mf("t1", "b")]}}),
            json!({"metadata": {"managedFields": [1, mf("t1", "b")]}}),
            json!({"metadata": {"managedFields": [1, mf("t3", "b")]}}),
            json!({"metadata": {"managedFields": "odd"}}),
            json!({"metadata": {"managedFields": [{"manager": "a"}]}}),
            json!({"metadata": {"managedFields": [{"manager": "a", "time": null}]}}),
            json!({"metadata": {"resourceVersion": "3"}}),
            json!({"metadata": {}, "kind": "X"}),
            json!({"metadata": {}, "kind": "X", "status": {}}),
        ];
        for a in &values {
            for b in &values {
                assert_eq!(
                    spec_changed(a, b),
                    spec_part(a) != spec_part(b),
                    "spec_changed({a}, {b})"
                );
                assert_eq!(
                    same_but_versions(a, b),
                    comparable(a) == comparable(b),
                    "same_but_versions({a}, {b})"
                );
            }
        }
    }
}
