//! Engine benchmark against the in-process test API server: `diff` and
//! `apply` of 1, 10, 100 and 1000 workspace tenants (plus an infra scope with
//! monitoring; 1000 tenants are about 22,000 objects), first install (up to
//! 100 tenants; larger ones are installed once, outside the timing) and
//! no-change re-run, and apply at concurrency 1 vs 8 with 5 ms of latency on
//! every write. Before timing, it prints the API requests per object of each
//! phase, and runs the release binary itself ([`process`]) for a no-change
//! `apply` and a `diff` at each size: wall time, requests per object and
//! cnvrgctl's peak RSS. Beside them, preflight's capacity judgement (pure)
//! for 100 tenants on 3 nodes with a pod per workload running, and the whole
//! preflight (requests and time) for 1 and 100 tenants against a fresh and an
//! installed test server. Last, how far a first install of 1 and 20
//! tenants (pods ready after 300 ms) is from its critical path.

mod process;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cnvrgctl::engine::apply::{self, Event, Observer, Options};
use cnvrgctl::engine::kube::Cluster;
use cnvrgctl::engine::preflight::Purpose;
use cnvrgctl::engine::timings::{self, Recorder};
use cnvrgctl::pipeline::manifest::{Manifest, Scope};
use cnvrgctl::pipeline::plan::Plan;
use cnvrgctl::pipeline::render::{SecretInputs, Templates};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use testserver::{Fault, FaultKind, FaultTarget, TestServer};

struct Silent;
impl Observer for Silent {
    fn event(&self, _: Event) {}
}

fn cluster_with(tenants: usize) -> String {
    let mut s = String::from(
        "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: bench\nspec:\n  profile: dev\n  ingress: {type: nodeport}\n  infra:\n    monitoring: {enabled: true}\n    logging: {enabled: true}\n  tenants:\n",
    );
    for i in 0..tenants {
        s.push_str(&format!(
            "    - name: ws-{i}\n      type: workspace\n      workspace:\n        agentPools:\n          - name: default\n            replicas: 2\n          - name: gpu\n"
        ));
    }
    s
}

struct Input {
    spec: cnvrgctl::pipeline::spec::Spec,
    manifests: Vec<Manifest>,
    plan: Plan,
    scopes: Vec<Scope>,
}

fn input(tenants: usize) -> Input {
    let spec = cnvrgctl::pipeline::spec::load_from(
        Path::new("bench/cluster.yaml"),
        cluster_with(tenants),
        vec![],
    )
    .expect("bench spec loads");
    let manifests =
        cnvrgctl::pipeline::render::render(&spec, &Templates::built_in(), &SecretInputs::default())
            .expect("renders");
    let plan = cnvrgctl::pipeline::plan::build(&manifests).expect("plans");
    let scopes = std::iter::once(Scope::Infra)
        .chain(spec.tenants.iter().map(|t| Scope::Tenant(t.name.clone())))
        .collect();
    Input {
        spec,
        manifests,
        plan,
        scopes,
    }
}

fn server() -> TestServer {
    TestServer::start_with(testserver::Options {
        ready_after: Duration::ZERO,
        crd_discovery_lag: Duration::from_millis(10),
        ..testserver::Options::default()
    })
}

/// observe + run; the requests it took.
async fn apply(server: &TestServer, input: &Input, concurrency: usize) -> u64 {
    let cluster = Arc::new(
        Cluster::connect(Some(server.kubeconfig()), None)
            .await
            .expect("connects"),
    );
    let options = Options {
        concurrency,
        ..Options::default()
    };
    let observed = observe(&cluster, input, &options).await;
    apply::run(
        cluster.clone(),
        &input.manifests,
        &input.plan,
        &observed,
        &options,
        &Silent,
    )
    .await
    .expect("applies");
    cluster.requests().total()
}

async fn diff(server: &TestServer, input: &Input) -> u64 {
    let cluster = Cluster::connect(Some(server.kubeconfig()), None)
        .await
        .expect("connects");
    let options = Options {
        dry_run_creates: true,
        ..Options::default()
    };
    observe(&cluster, input, &options).await;
    cluster.requests().total()
}

async fn observe(cluster: &Cluster, input: &Input, options: &Options) -> apply::Observed {
    apply::observe(
        cluster,
        &input.manifests,
        &input.plan,
        &input.scopes,
        options,
    )
    .await
    .expect("observes")
}

/// The release binary against `server`, where `input` is installed: a
/// no-change `apply` and a `diff`, each as its own process.
fn users(server: &TestServer, tenants: usize, input: &Input) {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("cluster.yaml");
    std::fs::write(&spec, cluster_with(tenants)).expect("spec file");
    let objects = input.manifests.len() as f64;
    for (what, args) in [("apply", &["apply", "--yes"][..]), ("diff", &["diff"][..])] {
        let m = process::run(server, &spec, args);
        assert_eq!(m.code, 0, "cnvrgctl {what} of {tenants} tenants");
        eprintln!(
            "{tenants:>4} tenants, cnvrgctl {what:<5} (no change): {:.2} s, {} requests ({:.2}/object), peak RSS {:.0} MiB",
            m.seconds,
            m.requests,
            m.requests as f64 / objects,
            m.peak_mib
        );
    }
}

/// The sizes measured; first installs are timed up to [`TIMED_INSTALLS`].
const SIZES: [usize; 4] = [1, 10, 100, 1000];
const TIMED_INSTALLS: usize = 100;

/// The runtime every group drives the test server and cnvrgctl with.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let inputs: Vec<(usize, Input)> = SIZES.iter().map(|&n| (n, input(n))).collect();
    let mut servers = Vec::new();
    for (n, input) in &inputs {
        let server = roomy();
        let objects = input.manifests.len() as f64;
        let first = rt.block_on(apply(&server, input, 8));
        let again = rt.block_on(apply(&server, input, 8));
        let writes = server.writes().len();
        server.clear_log();
        let _ = rt.block_on(apply(&server, input, 8));
        let rerun_writes = server.writes().len();
        let d = rt.block_on(diff(&server, input));
        eprintln!(
            "{n:>4} tenants, {objects} objects: first install {first} requests ({:.2}/object, {writes} writes); re-run {again} requests ({:.2}/object, {rerun_writes} writes); diff {d} requests ({:.2}/object)",
            first as f64 / objects,
            again as f64 / objects,
            d as f64 / objects,
        );
        users(&server, *n, input);
        servers.push(server);
    }

    let mut group = c.benchmark_group("engine");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for ((n, input), installed) in inputs.iter().zip(&servers) {
        if *n <= TIMED_INSTALLS {
            group.bench_function(BenchmarkId::new("apply_first_install", n), |b| {
                b.iter_batched(
                    server,
                    |s| rt.block_on(apply(&s, input, 8)),
                    BatchSize::PerIteration,
                )
            });
        }
        group.bench_function(BenchmarkId::new("apply_no_change", n), |b| {
            b.iter(|| rt.block_on(apply(installed, input, 8)))
        });
        group.bench_function(BenchmarkId::new("diff_no_change", n), |b| {
            b.iter(|| rt.block_on(diff(installed, input)))
        });
    }
    // Independent objects must scale with --concurrency: 5 ms per write.
    let (_, ten) = &inputs[1];
    for concurrency in [1usize, 8] {
        group.bench_function(
            BenchmarkId::new(
                "apply_first_install_5ms_latency_10_tenants_concurrency",
                concurrency,
            ),
            |b| {
                b.iter_batched(
                    || {
                        let s = server();
                        s.inject(
                            Fault::new(
                                FaultTarget::method("PATCH"),
                                FaultKind::Delay(Duration::from_millis(5)),
                            )
                            .times(u32::MAX),
                        );
                        s
                    },
                    |s| rt.block_on(apply(&s, ten, concurrency)),
                    BatchSize::PerIteration,
                )
            },
        );
    }
    group.finish();
}

/// Three nodes and `pods` running pods spread over them, as listed.
fn nodes_and_pods(pods: usize) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let nodes = (1..=3)
        .map(|i| {
            serde_json::json!({"kind": "Node", "metadata": {"name": format!("node-{i}"),
                    "labels": {"kubernetes.io/os": "linux"}},
                "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "1000"},
                           "conditions": [{"type": "Ready", "status": "True"}]}})
        })
        .collect();
    let pods = (0..pods)
        .map(|i| {
            serde_json::json!({"kind": "Pod", "metadata": {"namespace": format!("ws-{}", i % 100)},
                "spec": {"nodeName": format!("node-{}", i % 3 + 1),
                         "containers": [{"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
                "status": {"phase": "Running"}})
        })
        .collect();
    (nodes, pods)
}

fn capacity(c: &mut Criterion) {
    let hundred = input(100);
    let (nodes, pods) = nodes_and_pods(500);
    let rows =
        cnvrgctl::engine::preflight::capacity::assess(&hundred.manifests, &[], &nodes, &pods);
    eprintln!(
        "capacity, 100 tenants on 3 nodes: {} row(s): {}",
        rows.len(),
        rows[0].detail
    );
    let mut group = c.benchmark_group("preflight");
    group.sample_size(20);
    group.bench_function(BenchmarkId::new("capacity_judgement_3_nodes", 100), |b| {
        b.iter(|| {
            cnvrgctl::engine::preflight::capacity::assess(&hundred.manifests, &[], &nodes, &pods)
        })
    });
    group.finish();
}

/// The whole preflight against the test server; the requests it took.
async fn preflight(server: &TestServer, input: &Input) -> u64 {
    let cluster = Cluster::connect(Some(server.kubeconfig()), None)
        .await
        .expect("connects");
    let report =
        cnvrgctl::engine::preflight::run(&cluster, &input.spec, &input.manifests, Purpose::Run)
            .await
            .expect("preflight runs");
    assert!(!report.failed(), "{report:#?}");
    cluster.requests().total()
}

/// A server with nodes big enough for 1000 tenants: preflight's capacity
/// check passes.
fn roomy() -> TestServer {
    let s = server();
    for i in 1..=2 {
        s.set_node(
            testserver::Node::new(&format!("node-{i}"))
                .allocatable("cpu", "4000")
                .allocatable("memory", "16Ti")
                .allocatable("pods", "20000"),
        );
    }
    s
}

fn preflight_runs(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("preflight");
    group.sample_size(10);
    for n in [1usize, 100] {
        let input = input(n);
        let fresh = roomy();
        let installed = roomy();
        rt.block_on(apply(&installed, &input, 8));
        for (state, server) in [("fresh", &fresh), ("installed", &installed)] {
            let requests = rt.block_on(preflight(server, &input));
            eprintln!(
                "preflight, {n} tenants ({} objects), {state} cluster: {requests} requests",
                input.manifests.len()
            );
            group.bench_function(BenchmarkId::new(format!("run_{state}"), n), |b| {
                b.iter(|| rt.block_on(preflight(server, &input)))
            });
        }
    }
    group.finish();
}

/// A first install that waits like a cluster (pods ready after 300 ms, 2 ms
/// per write); its wall time and its critical path.
async fn timed_install(input: &Input) -> (Duration, Duration) {
    let server = TestServer::start_with(testserver::Options {
        ready_after: Duration::from_millis(300),
        ..testserver::Options::default()
    });
    server.inject(
        Fault::new(
            FaultTarget::method("PATCH"),
            FaultKind::Delay(Duration::from_millis(2)),
        )
        .times(u32::MAX),
    );
    let cluster = Arc::new(
        Cluster::connect(Some(server.kubeconfig()), None)
            .await
            .expect("connects"),
    );
    let options = Options::default();
    let observed = observe(&cluster, input, &options).await;
    let recorder = Recorder::new(&Silent, &observed);
    apply::run(
        cluster.clone(),
        &input.manifests,
        &input.plan,
        &observed,
        &options,
        &recorder,
    )
    .await
    .expect("applies");
    let after = input.plan.steps.iter().map(|s| s.after.clone()).collect();
    let timings = recorder.timings(after, cluster.requests().total(), Vec::new());
    let path = timings::critical(&timings);
    (timings.wall, path.length)
}

/// How far a first install is from its critical path (`-- critical_path`).
fn critical_path(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("critical_path");
    group.sample_size(10);
    for n in [1usize, 20] {
        let input = input(n);
        let (wall, path) = rt.block_on(timed_install(&input));
        eprintln!(
            "{n} tenants: wall {:.2} s, critical path {:.2} s ({:.0}% over)",
            wall.as_secs_f64(),
            path.as_secs_f64(),
            100.0 * (wall.as_secs_f64() / path.as_secs_f64().max(1e-9) - 1.0)
        );
        group.bench_function(BenchmarkId::new("first_install_pods_300ms", n), |b| {
            b.iter(|| rt.block_on(timed_install(&input)))
        });
    }
    group.finish();
}

criterion_group!(benches, capacity, preflight_runs, bench, critical_path);
criterion_main!(benches);
