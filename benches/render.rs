//! Render benchmark: the whole path `cnvrgctl validate` runs, for 1, 10, 100
//! and 1000 workspace tenants (two agent pools each), from spec files on disk
//! (`cluster.yaml` and one `tenants/*.yaml` per tenant, in a temporary
//! directory) through loading, rendering and every check (schemas, CR
//! schemas, quotas, the plan). It calls the command's own function
//! ([`cnvrgctl::front::commands::prepare`]), so it cannot drift from the
//! product. Before timing, it prints the peak heap of one full run per size,
//! measured by a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use cnvrgctl::front::cli::SpecArgs;
use cnvrgctl::front::ui::{Flags, Printer};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const CLUSTER: &str = "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: bench\nspec:\n  profile: prod\n  registry: {user: acme, passwordEnv: REGISTRY_PASSWORD}\n  infra:\n    storage:\n      hostpath: {enabled: true}\n";

/// Writes the spec of `tenants` workspace tenants under `dir`: the cluster
/// file and one tenant file each, as a user keeps them.
fn write_spec(dir: &Path, tenants: usize) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("tenants")).expect("tenants dir");
    for i in 0..tenants {
        std::fs::write(
            dir.join(format!("tenants/ws-{i}.yaml")),
            format!(
                "apiVersion: cnvrgctl.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: ws-{i}\nspec:\n  type: workspace\n  workspace:\n    agentPools:\n      - name: default\n        replicas: 2\n      - name: gpu\n"
            ),
        )
        .expect("tenant file");
    }
    let cluster = dir.join("cluster.yaml");
    std::fs::write(&cluster, CLUSTER).expect("cluster file");
    cluster
}

/// Everything `cnvrgctl validate` does short of printing; returns the object count.
fn run(printer: &Printer, args: &SpecArgs) -> usize {
    let (_, manifests) = cnvrgctl::front::commands::prepare(printer, args).expect("valid spec");
    manifests.len()
}

fn bench(c: &mut Criterion) {
    let printer = Printer::new(Flags {
        json: false,
        quiet: true,
        no_color: true,
    });
    let root = tempfile::tempdir().expect("tempdir");
    let sizes = [1usize, 10, 100, 1000];
    let specs: Vec<(usize, SpecArgs)> = sizes
        .iter()
        .map(|&n| {
            let file = write_spec(&root.path().join(n.to_string()), n);
            (
                n,
                SpecArgs {
                    file,
                    templates: None,
                },
            )
        })
        .collect();
    for (n, args) in &specs {
        let base = CURRENT.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let objects = run(&printer, args);
        let peak = PEAK.load(Ordering::Relaxed) - base;
        eprintln!(
            "validate {n:>4} tenants: {objects:>6} objects, peak heap {:.1} MiB ({:.0} KiB/tenant)",
            peak as f64 / 1048576.0,
            peak as f64 / 1024.0 / *n as f64
        );
    }
    let mut group = c.benchmark_group("validate_from_files");
    group.sample_size(10);
    for (n, args) in &specs {
        group.throughput(Throughput::Elements(*n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), args, |b, args| {
            b.iter(|| run(&printer, args))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
