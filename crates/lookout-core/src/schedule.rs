//! When each check runs: on an interval (anchored, so runs do not drift by
//! their own duration) or on a cron schedule, plus a random jitter; never
//! two runs of one check at once (a run that comes due while the previous
//! one is still going is skipped); and at most `limit` runs in flight, the
//! rest waiting in arrival order. A slow check holds only its own slot, so
//! it never delays the others beyond the concurrency limit.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::config::{CheckCfg, CheckKind, Schedule};
use crate::model::{CheckId, Millis};
use crate::rng::Rng;

#[derive(Clone, Debug, Default)]
struct Entry {
    /// The un-jittered time of the next run; None for heartbeats (nothing
    /// to run: they wait to be pinged).
    base: Option<Millis>,
    due: Millis,
    running: bool,
    queued: bool,
}

/// What happened to a check that came due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    Start(CheckId),
    /// Still running from last time: this run is skipped.
    SkippedOverlap(CheckId),
}

#[derive(Clone, Debug)]
pub struct Scheduler {
    entries: Vec<Entry>,
    heap: BinaryHeap<Reverse<(Millis, CheckId)>>,
    queue: VecDeque<CheckId>,
    running: usize,
    limit: usize,
}

fn next_base(schedule: &Schedule, base: Millis, now: Millis) -> Millis {
    match schedule {
        Schedule::Every(i) => {
            let i = (*i).max(1);
            let mut b = base + i;
            if b <= now {
                // Missed runs (a suspended machine) are skipped, not replayed.
                b += (now - b) / i * i + i;
            }
            b
        }
        Schedule::Cron(c) => c.next_after(base.max(now)).unwrap_or(Millis::MAX),
    }
}

impl Scheduler {
    pub fn new(checks: &[CheckCfg], limit: usize, now: Millis, rng: &mut Rng) -> Self {
        let mut s = Scheduler {
            entries: vec![Entry::default(); checks.len()],
            heap: BinaryHeap::new(),
            queue: VecDeque::new(),
            running: 0,
            limit: limit.max(1),
        };
        for (id, c) in checks.iter().enumerate() {
            if matches!(c.kind, CheckKind::Heartbeat { .. }) {
                continue;
            }
            let base = match &c.schedule {
                // Interval checks start at once, spread by the jitter.
                Schedule::Every(_) => now,
                Schedule::Cron(cron) => cron.next_after(now).unwrap_or(Millis::MAX),
            };
            s.arm(id, base, c.jitter, rng);
        }
        s
    }

    fn arm(&mut self, id: CheckId, base: Millis, jitter: Millis, rng: &mut Rng) {
        let due = base.saturating_add(rng.below_or_eq(jitter));
        let e = &mut self.entries[id];
        e.base = Some(base);
        e.due = due;
        self.heap.push(Reverse((due, id)));
    }

    /// Carry the running flag over a config reload (same check name).
    pub fn mark_running(&mut self, id: CheckId) {
        if !self.entries[id].running {
            self.entries[id].running = true;
            self.running += 1;
        }
    }

    pub fn is_running(&self, id: CheckId) -> bool {
        self.entries.get(id).is_some_and(|e| e.running)
    }

    pub fn in_flight(&self) -> usize {
        self.running
    }

    /// Start `id` at once (a manual run), if it is not already running.
    pub fn run_now(&mut self, id: CheckId) -> bool {
        let Some(e) = self.entries.get_mut(id) else {
            return false;
        };
        if e.running || e.base.is_none() {
            return false;
        }
        if self.running < self.limit {
            e.running = true;
            self.running += 1;
            true
        } else {
            if !e.queued {
                e.queued = true;
                self.queue.push_back(id);
            }
            false
        }
    }

    /// Everything due at `now`, in due order.
    pub fn poll(&mut self, now: Millis, checks: &[CheckCfg], rng: &mut Rng) -> Vec<Due> {
        let mut out = Vec::new();
        while let Some(&Reverse((due, id))) = self.heap.peek() {
            if due > now {
                break;
            }
            self.heap.pop();
            let e = &self.entries[id];
            let Some(base) = e.base else { continue };
            if e.due != due {
                continue; // stale heap item
            }
            let (running, queued) = (e.running, e.queued);
            let nb = next_base(&checks[id].schedule, base, now);
            self.arm(id, nb, checks[id].jitter, rng);
            if running {
                out.push(Due::SkippedOverlap(id));
            } else if queued {
                // Already waiting for a slot: one pending run is enough.
            } else if self.running < self.limit {
                self.entries[id].running = true;
                self.running += 1;
                out.push(Due::Start(id));
            } else {
                self.entries[id].queued = true;
                self.queue.push_back(id);
            }
        }
        out
    }

    /// A run finished: free its slot and start whoever waits longest.
    pub fn finished(&mut self, id: CheckId) -> Vec<CheckId> {
        if let Some(e) = self.entries.get_mut(id)
            && e.running
        {
            e.running = false;
            self.running -= 1;
        }
        let mut started = Vec::new();
        while self.running < self.limit {
            let Some(next) = self.queue.pop_front() else {
                break;
            };
            let e = &mut self.entries[next];
            e.queued = false;
            if e.running {
                continue;
            }
            e.running = true;
            self.running += 1;
            started.push(next);
        }
        started
    }

    pub fn next_wakeup(&self) -> Option<Millis> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// When `id` is next due (for the status page).
    pub fn next_due(&self, id: CheckId) -> Option<Millis> {
        self.entries.get(id).and_then(|e| e.base.map(|_| e.due))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn checks(src: &str) -> Vec<CheckCfg> {
        config::parse(src).unwrap().checks
    }

    const TWO: &str = r#"
[[check]]
name = "a"
type = "tcp"
address = "127.0.0.1:1"
interval = "10s"
jitter = "0"
[[check]]
name = "b"
type = "tcp"
address = "127.0.0.1:1"
interval = "30s"
jitter = "2s"
"#;

    #[test]
    fn interval_runs_are_anchored_and_jittered() {
        let cs = checks(TWO);
        let mut rng = Rng::new(7);
        let mut s = Scheduler::new(&cs, 10, 1_000_000, &mut rng);
        let first = s.poll(1_000_000, &cs, &mut rng);
        assert_eq!(first, vec![Due::Start(0)]);
        let b_due = s.next_due(1).unwrap();
        assert!((1_000_000..=1_002_000).contains(&b_due));
        assert_eq!(s.poll(b_due, &cs, &mut rng), vec![Due::Start(1)]);
        // a finishes late (9 s); its next run is still at +10 s, not +19 s.
        s.finished(0);
        assert_eq!(s.next_due(0), Some(1_010_000));
        // a run that comes due while the last is still going is skipped.
        assert_eq!(s.poll(1_010_000, &cs, &mut rng), vec![Due::Start(0)]);
        assert_eq!(
            s.poll(1_020_000, &cs, &mut rng),
            vec![Due::SkippedOverlap(0)]
        );
        s.finished(0);
        // b's next run: anchored at +30 s, jitter within 2 s.
        s.finished(1);
        let nb = s.next_due(1).unwrap();
        assert!((1_030_000..=1_032_000).contains(&nb), "{nb}");
        // Missed runs after a long pause are skipped, not replayed.
        let late = 1_100_500;
        let started = s.poll(late, &cs, &mut rng);
        assert_eq!(started, vec![Due::Start(0), Due::Start(1)]);
        assert_eq!(s.next_due(0), Some(1_110_000));
        assert_eq!(s.poll(late, &cs, &mut rng), vec![]);
    }

    #[test]
    fn concurrency_limit_queues_in_order() {
        let mut src = String::new();
        for i in 0..5 {
            src += &format!(
                "[[check]]\nname = \"c{i}\"\ntype = \"tcp\"\naddress = \"x:1\"\ninterval = \"1m\"\njitter = \"0\"\n"
            );
        }
        let cs = checks(&src);
        let mut rng = Rng::new(1);
        let mut s = Scheduler::new(&cs, 2, 0, &mut rng);
        assert_eq!(s.poll(0, &cs, &mut rng), vec![Due::Start(0), Due::Start(1)]);
        assert_eq!(s.in_flight(), 2);
        assert_eq!(s.finished(1), vec![2]);
        assert_eq!(s.finished(0), vec![3]);
        assert_eq!(s.finished(0), vec![]); // a duplicate finish frees nothing more
        assert_eq!(s.finished(2), vec![4]);
        assert_eq!(s.finished(3), vec![]);
        assert_eq!(s.in_flight(), 1);
    }

    #[test]
    fn cron_checks_run_on_their_minutes() {
        let cs = checks(
            "[[check]]\nname = \"n\"\ntype = \"exec\"\ncommand = [\"true\"]\ncron = \"*/15 * * * *\"\njitter = \"0\"\n",
        );
        let mut rng = Rng::new(1);
        let t0 = crate::civil::from_civil(2026, 12, 3, 16, 48);
        let mut s = Scheduler::new(&cs, 2, t0, &mut rng);
        assert_eq!(
            s.next_wakeup(),
            Some(crate::civil::from_civil(2026, 12, 3, 17, 0))
        );
        let t1 = s.next_wakeup().unwrap();
        assert_eq!(s.poll(t1, &cs, &mut rng), vec![Due::Start(0)]);
        assert_eq!(s.next_wakeup(), Some(t1 + 15 * 60_000));
    }
}
