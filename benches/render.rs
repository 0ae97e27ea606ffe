//! Render benchmark: load + render + validate for 1, 10, 100 and 1000
//! workspace tenants (two agent pools each). Before timing, it prints the peak
//! heap of one full run per size, measured by a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use cnvrgctl::pipeline::render::{SecretInputs, Templates};
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

fn cluster_with(tenants: usize) -> String {
    let mut s = String::from(
        "apiVersion: cnvrgctl.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: bench\nspec:\n  profile: prod\n  registry: {user: acme, passwordEnv: REGISTRY_PASSWORD}\n  infra:\n    storage:\n      hostpath: {enabled: true}\n  tenants:\n",
    );
    for i in 0..tenants {
        s.push_str(&format!(
            "    - name: ws-{i}\n      type: workspace\n      workspace:\n        agentPools:\n          - name: default\n            replicas: 2\n          - name: gpu\n"
        ));
    }
    s
}

/// Everything `cnvrgctl render` does short of printing; returns the object count.
fn run(text: &str, templates: &Templates) -> usize {
    let spec = cnvrgctl::pipeline::spec::load_from(
        Path::new("bench/cluster.yaml"),
        text.to_string(),
        vec![],
    )
    .expect("bench spec loads");
    let ms = cnvrgctl::pipeline::render::render(&spec, templates, &SecretInputs::default())
        .expect("renders");
    cnvrgctl::pipeline::validate::validate(&ms).expect("validates");
    ms.len()
}

fn bench(c: &mut Criterion) {
    let templates = Templates::built_in();
    let sizes = [1usize, 10, 100, 1000];
    for n in sizes {
        let text = cluster_with(n);
        let base = CURRENT.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let objects = run(&text, &templates);
        let peak = PEAK.load(Ordering::Relaxed) - base;
        eprintln!(
            "render {n:>4} tenants: {objects:>6} objects, peak heap {:.1} MiB",
            peak as f64 / 1048576.0
        );
    }
    let mut group = c.benchmark_group("render_validate");
    group.sample_size(10);
    for n in sizes {
        let text = cluster_with(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| run(text, &templates))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
