//! Replicated services with client ranks: the scaffolding that `raft`, `sequence-paxos` and the
//! hashmap's Raft backend share, and that any algorithm with servers and clients builds on.
//!
//! Roles by rank: servers `[0, S)`, clients `[S, np)` (`--clients C`, so S = np - C).
//!
//! - [`Msg`]: what travels. The clients' protocol is the same in every service (a [`Request`]
//!   of commands, a [`Redirect`] to the leader, a [`Reply`] with results); the servers' own
//!   protocol is the service's [`Service::Peer`], carried in [`Msg::Peer`]. Timers are kept
//!   apart the same way ([`Timer`]).
//! - [`ServerRole`] and [`ClientRole`]: what a service writes, one handler per message it
//!   can get; [`Roles`] makes the pair one [`Process`](crate::shared::Process), so dispatch is written once here.
//! - [`LeaderSeeker`]: a client's guess of the leader (follow redirects and answers, move to
//!   the next server after a silent period).
//! - [`ServiceClient`]: the closed-loop client (a window of commands in flight, retries,
//!   give-up) for services whose commands are a function of their id ([`Commands`]).
//! - [`ServiceArgs`] and [`Config`]: the options every such binary has, and their values;
//!   [`CommitFigures`]: the figures every replicated log reports; [`stall_check`]: progress
//!   during the run (the longest wait for an answer while the plan let the service progress).
//!
//! Files: [`options`], [`wire`] (messages and timers), [`roles`], [`client`], [`figures`],
//! [`stall`].

pub mod client;
pub mod figures;
pub mod options;
pub mod roles;
pub mod stall;
pub mod wire;

pub use self::client::*;
pub use self::figures::*;
pub use self::options::*;
pub use self::roles::*;
pub use self::stall::*;
pub use self::wire::*;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_seeker_follows_answers_and_redirects_and_rotates_when_silent() {
        let mut s = LeaderSeeker::new(7, 5);
        assert_eq!(s.leader(), 2, "clients start at different servers");
        let retry = Duration::from_millis(40);
        assert_eq!(
            s.redirected(Redirect { leader: Some(4) }, retry),
            Redirected::Resend
        );
        assert_eq!(s.leader(), 4);
        assert_eq!(
            s.redirected(Redirect { leader: Some(4) }, retry),
            Redirected::Ignore
        );
        assert_eq!(
            s.redirected(Redirect { leader: Some(9) }, retry),
            Redirected::Ignore,
            "not a server"
        );
        assert_eq!(
            s.redirected(Redirect { leader: None }, retry),
            Redirected::RetrySoon(Duration::from_millis(10))
        );
        s.replied(1, true);
        assert!(!s.tick(), "news in the period: stay");
        assert_eq!(s.leader(), 1);
        s.replied(1, false);
        assert!(s.tick(), "a duplicate answer is no news: move on");
        assert_eq!(s.leader(), 2);
        assert!(s.tick());
        assert!(s.tick());
        assert!(s.tick());
        assert_eq!(s.leader(), 0, "wraps around the servers");
    }

    #[test]
    fn servers_at_refuses_no_server() {
        assert_eq!(servers_at("raft", 2, 5), Ok(3));
        let e = servers_at("raft", 5, 5).unwrap_err();
        assert!(e.contains("--clients 5 leaves no server at np=5"), "{e}");
    }
}
