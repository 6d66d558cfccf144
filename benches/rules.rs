//! Criterion micro-benchmarks of the pure rules over realistic sizes:
//! budget validation and sums, the round ranking (10,000 applications × 5 reviews) and the
//! tranche split. Run with `cargo bench --bench rules`; `scripts/bench.sh` runs them too.

use chrono::{Duration, TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rust_decimal::Decimal;
use uuid::Uuid;

use gongyi::domain::budget::{
    line_amount, summarize, validate_lines, BudgetCategory, BudgetLineInput, FundedBy,
};
use gongyi::domain::grant::split_tranches;
use gongyi::domain::money::Money;
use gongyi::domain::review::{rank, RankInput, ReviewInput};
use gongyi::domain::round::{default_tranches, RoundKind, RoundRules, Rubric, TrancheSpec};

/// A deterministic pseudo-random sequence (no dependency, same numbers every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn budget(n: usize, rng: &mut Lcg) -> Vec<BudgetLineInput> {
    let categories = [
        BudgetCategory::Personnel,
        BudgetCategory::Activities,
        BudgetCategory::Materials,
        BudgetCategory::Venue,
        BudgetCategory::Publicity,
        BudgetCategory::Training,
        BudgetCategory::Administration,
        BudgetCategory::Other,
    ];
    (0..n)
        .map(|i| BudgetLineInput {
            category: categories[i % categories.len()],
            description: format!("预算科目 {i}: 活动物资与场地"),
            quantity: Decimal::new(1 + rng.below(40) as i64 * 50, 2),
            unit_cost: Money::new(Decimal::new(10_000 + rng.below(2_000_000) as i64, 2))
                .expect("valid amount"),
            funded_by: if i % 4 == 3 {
                FundedBy::SelfFunded
            } else {
                FundedBy::Grant
            },
        })
        .collect()
}

fn bench_budget(c: &mut Criterion) {
    let mut group = c.benchmark_group("budget");
    let mut rng = Lcg(7);
    // A typical budget has 5–30 lines; 200 is the maximum the rules allow.
    for n in [10usize, 50, 200] {
        let lines = budget(n, &mut rng);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::new("validate_and_summarize", n),
            &lines,
            |b, lines| {
                b.iter(|| {
                    let v = validate_lines(black_box(lines));
                    let s = summarize(lines.iter().map(|l| {
                        (
                            l.category,
                            l.funded_by,
                            line_amount(l.quantity, l.unit_cost).unwrap_or_default(),
                        )
                    }));
                    (v, s)
                })
            },
        );
    }
    group.finish();
}

/// `apps` applications, each with `reviews` submitted reviews scored on the default rubric.
fn rank_inputs(apps: usize, reviews: usize, rubric: &Rubric) -> Vec<RankInput> {
    let mut rng = Lcg(42);
    let reviewers: Vec<Uuid> = (0..reviews.max(1) * 4)
        .map(|i| Uuid::from_u128(0xbe00_0000 + i as u128))
        .collect();
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    (0..apps)
        .map(|i| {
            let first = rng.below(reviewers.len() as u64) as usize;
            RankInput {
                application_id: Uuid::from_u128(i as u128 + 1),
                submitted_at: t0 + Duration::seconds(i as i64 * 7),
                assessment_passed: i % 5 != 0,
                party_objective: Decimal::from(rng.below(11)),
                reviews: (0..reviews)
                    .map(|r| ReviewInput {
                        reviewer_id: reviewers[(first + r) % reviewers.len()],
                        scores: rubric
                            .criteria
                            .iter()
                            .map(|c| {
                                // A score on the rubric's 0.5 step, within the criterion's max.
                                let steps = (c.max * Decimal::TWO).trunc();
                                let s = rng.below(steps.try_into().unwrap_or(1u64) + 1);
                                Some(Decimal::new(s as i64 * 5, 1))
                            })
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn bench_rank(c: &mut Criterion) {
    let rubric = Rubric::default();
    let mut group = c.benchmark_group("rank");
    group.sample_size(10);
    for (apps, normalization) in [(1_000usize, false), (10_000, false), (10_000, true)] {
        let mut rules = RoundRules::defaults_for(RoundKind::VenturePhilanthropy);
        rules.score_normalization = normalization;
        let inputs = rank_inputs(apps, 5, &rubric);
        let name = if normalization {
            "5_reviews_normalized"
        } else {
            "5_reviews"
        };
        group.throughput(Throughput::Elements(apps as u64));
        group.bench_with_input(BenchmarkId::new(name, apps), &inputs, |b, inputs| {
            b.iter(|| rank(black_box(inputs), &rubric, &rules))
        });
    }
    group.finish();
}

fn bench_tranches(c: &mut Criterion) {
    let mut group = c.benchmark_group("split_tranches");
    let award = Money::parse("123456.78").expect("valid");
    let default = default_tranches();
    group.bench_function("default_50_30_20", |b| {
        b.iter(|| split_tranches(black_box(award), black_box(&default)))
    });
    // Ten unequal tranches: the longest schedule a round plausibly has.
    let ten: Vec<TrancheSpec> = [7, 8, 9, 10, 11, 12, 13, 14, 8, 8]
        .iter()
        .enumerate()
        .map(|(i, p)| TrancheSpec {
            percent: Decimal::from(*p),
            milestone: default[i.min(2)].milestone,
        })
        .collect();
    group.bench_function("ten_tranches", |b| {
        b.iter(|| split_tranches(black_box(award), black_box(&ten)))
    });
    // A whole round's awards split at once (10,000 grants).
    let awards: Vec<Money> = (0..10_000)
        .map(|i| Money::new(Decimal::new(2_000_000 + i * 1_237, 2)).expect("valid"))
        .collect();
    group.throughput(Throughput::Elements(awards.len() as u64));
    group.bench_function("round_of_10000_awards", |b| {
        b.iter(|| {
            awards
                .iter()
                .map(|a| split_tranches(*a, &default).len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_budget, bench_rank, bench_tranches);
criterion_main!(benches);
