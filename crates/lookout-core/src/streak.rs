//! The per-check debounce: a problem starts after `fail_after` non-GOOD
//! results in a row and ends after `recover_after` GOOD ones, so one lost
//! packet never pages anybody.

use crate::model::Outcome;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streak {
    pub bad: u32,
    pub good: u32,
    pub problem: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    ProblemStarted,
    Recovered,
}

impl Streak {
    pub fn record(
        &mut self,
        outcome: Outcome,
        fail_after: u32,
        recover_after: u32,
    ) -> Option<Transition> {
        if outcome.is_good() {
            self.good = self.good.saturating_add(1);
            self.bad = 0;
            if self.problem && self.good >= recover_after {
                self.problem = false;
                return Some(Transition::Recovered);
            }
        } else {
            self.bad = self.bad.saturating_add(1);
            self.good = 0;
            if !self.problem && self.bad >= fail_after {
                self.problem = true;
                return Some(Transition::ProblemStarted);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;

    #[test]
    fn opens_after_n_bad_and_closes_after_m_good() {
        let mut s = Streak::default();
        assert_eq!(s.record(Failed, 3, 2), None);
        assert_eq!(s.record(Good, 3, 2), None); // resets the bad run
        assert_eq!(s.record(TimedOut, 3, 2), None);
        assert_eq!(s.record(Failed, 3, 2), None);
        assert_eq!(s.record(TimedOut, 3, 2), Some(Transition::ProblemStarted));
        assert_eq!(s.record(Failed, 3, 2), None);
        assert_eq!(s.record(Good, 3, 2), None);
        assert_eq!(s.record(Failed, 3, 2), None); // one bad result breaks the good run
        assert_eq!(s.record(Good, 3, 2), None);
        assert_eq!(s.record(Good, 3, 2), Some(Transition::Recovered));
        assert!(!s.problem);
        assert_eq!(s.record(Good, 1, 1), None);
        assert_eq!(s.record(Failed, 1, 1), Some(Transition::ProblemStarted));
    }
}
