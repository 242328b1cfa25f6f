//! Who a task belongs to, and which door it came through. Doors learn the user from a
//! credential (src/auth); the scheduler only compares names.

use std::fmt;
use std::sync::Arc;

/// A known caller: a name, and whether it may see and manage everyone's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct User {
    pub name: Arc<str>,
    pub admin: bool,
}

impl User {
    /// The name of the one user of a server without users (no auth, or `--token`).
    pub const LOCAL: &'static str = "local";

    /// The one user of a server without users: it owns every task, so it sees them all.
    pub fn local() -> User {
        User {
            name: Self::LOCAL.into(),
            admin: true,
        }
    }

    pub fn named(name: &str, admin: bool) -> User {
        User {
            name: name.into(),
            admin,
        }
    }

    /// Whether this user may see and control what `owner` owns.
    pub fn may_see(&self, owner: &str) -> bool {
        self.admin || &*self.name == owner
    }
}

impl fmt::Display for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The door a task came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Door {
    /// The task WebSocket protocol.
    Websocket,
    /// `POST /tasks` and `/api/tools`.
    Rest,
    Mcp,
    /// `browser-control run`.
    Cli,
    /// The agent API.
    Agent,
}

impl Door {
    pub const ALL: [Door; 5] = [
        Door::Websocket,
        Door::Rest,
        Door::Mcp,
        Door::Cli,
        Door::Agent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Door::Websocket => "websocket",
            Door::Rest => "rest",
            Door::Mcp => "mcp",
            Door::Cli => "cli",
            Door::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Door> {
        Door::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for Door {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_see_their_own_and_admins_see_all() {
        let ann = User::named("ann", false);
        assert!(ann.may_see("ann"));
        assert!(!ann.may_see("bob"));
        assert!(User::named("root", true).may_see("bob"));
        assert!(User::local().may_see(User::LOCAL));
    }

    #[test]
    fn doors_round_trip_through_their_names() {
        for door in Door::ALL {
            assert_eq!(Door::parse(door.as_str()), Some(door));
        }
        assert_eq!(Door::parse("ftp"), None);
    }
}
