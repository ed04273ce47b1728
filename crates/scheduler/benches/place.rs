//! Benchmark: one placement decision among 10,000 providers with a model warmed by 100,000 observations.
//! Goal: ≤ 50 µs. Run with `cargo bench -p ocean-scheduler --bench place`.

use criterion::{Criterion, black_box, criterion_main};
use ocean_scheduler::{Candidate, Config, Event, Kind, Policy, ProviderId, Rng, Scheduler, Task, TaskId};

fn candidates(n: usize, rng: &mut Rng) -> Vec<Candidate> {
    (0..n)
        .map(|i| {
            let mut c = Candidate::new(i as u64, 0.5 + 8.0 * rng.unit());
            c.queue_len = rng.below(5) as u32;
            c.queued_work = f64::from(c.queue_len) * 100.0 * rng.unit();
            c.caps.gpu = rng.unit() < 0.1;
            c.caps.memory_mib = if rng.unit() < 0.5 { 8 * 1024 } else { 64 * 1024 };
            c.price = 1.0 + rng.unit();
            c
        })
        .collect()
}

fn warmed(n: usize, full_scan_limit: usize) -> (Scheduler, Vec<Candidate>) {
    let mut rng = Rng::seed(1);
    let cands = candidates(n, &mut rng);
    let mut s = Scheduler::new(Config { full_scan_limit, ..Config::default() }, 7);
    for i in 0..100_000u64 {
        let task = Task::new(i, 100.0);
        // Every provider gets work and observations, so the model holds state for all of them.
        let c = &cands[rng.below(cands.len())];
        let _ = s.place(&task, std::slice::from_ref(c));
        s.observe(&Event::Finished {
            task: TaskId(i),
            provider: ProviderId(c.id.0),
            kind: if i % 3 == 0 { Kind::GPU } else { Kind::CPU },
            work: Some(100.0),
            input_bytes: 1_000_000,
            fetch_s: 0.1,
            run_s: 100.0 / (c.benchmark * (0.5 + rng.unit())),
            at: i as f64,
        });
    }
    (s, cands)
}

fn bench(c: &mut Criterion) {
    let (mut s, cands) = warmed(10_000, Config::default().full_scan_limit);
    let mut task = Task::new(1, 120.0);
    task.needs.memory_mib = 4096;
    task.deadline_s = Some(600.0);
    c.bench_function("place/10k providers (shortlist)", |b| {
        b.iter(|| black_box(s.place(black_box(&task), black_box(&cands))))
    });
    let (mut full, cands) = warmed(10_000, usize::MAX);
    c.bench_function("place/10k providers (full scan)", |b| {
        b.iter(|| black_box(full.place(black_box(&task), black_box(&cands))))
    });
    let (mut small, cands) = warmed(200, Config::default().full_scan_limit);
    c.bench_function("place/200 providers (full scan)", |b| {
        b.iter(|| black_box(small.place(black_box(&task), black_box(&cands))))
    });
}

// The macro generates an undocumented function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
