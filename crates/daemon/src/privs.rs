//! `-u user`, `-u :group`, `-u user:group`: drop privileges after binding
//! (so privileged ports work) and after daemonizing.
//!
//! Order as upstream: leave supplementary groups (EPERM only warns), then
//! setgid, then setuid. Names are looked up first; a name that is not found
//! is read as a number. Decision: with only a user given we also switch to
//! that user's primary group, so no root group survives the drop.

use std::ffi::{CStr, CString};

use crate::log::warn;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrivError {
    #[error("Need to specify user and/or group: \"{0}\"")]
    Empty(String),
    #[error("Empty group name: \"{0}\"")]
    EmptyGroup(String),
    #[error("No such user: {0}")]
    NoUser(String),
    #[error("No such group: {0}")]
    NoGroup(String),
    #[error("{0}")]
    Sys(String),
}

/// A parsed `-u` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserGroup {
    pub user: Option<String>,
    pub group: Option<String>,
}

impl UserGroup {
    pub fn parse(s: &str) -> Result<Self, PrivError> {
        let (u, g) = match s.split_once(':') {
            Some((u, g)) => {
                if g.is_empty() {
                    return Err(PrivError::EmptyGroup(s.to_string()));
                }
                (u, Some(g))
            }
            None => (s, None),
        };
        if u.is_empty() && g.is_none() {
            return Err(PrivError::Empty(s.to_string()));
        }
        Ok(UserGroup {
            user: (!u.is_empty()).then(|| u.to_string()),
            group: g.map(str::to_string),
        })
    }

    /// Drop privileges. Call single-threaded (getpwnam is not reentrant).
    pub fn drop_privileges(&self) -> Result<(), PrivError> {
        let user = match &self.user {
            Some(u) => Some(lookup_user(u)?),
            None => None,
        };
        let gid = match (&self.group, &user) {
            (Some(g), _) => Some(lookup_group(g)?),
            (None, Some((_, gid))) => Some(*gid),
            (None, None) => None,
        };
        // SAFETY: plain syscalls with valid arguments.
        if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EPERM) {
                warn("Could not leave supplementary groups: Operation not permitted");
            } else {
                return Err(PrivError::Sys(format!("setgroups: {e}")));
            }
        }
        if let Some(gid) = gid
            && unsafe { libc::setgid(gid) } != 0
        {
            return Err(PrivError::Sys(format!(
                "setgid: {}",
                std::io::Error::last_os_error()
            )));
        }
        if let Some((uid, _)) = user
            && unsafe { libc::setuid(uid) } != 0
        {
            return Err(PrivError::Sys(format!(
                "setuid: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(())
    }
}

fn lookup_user(name: &str) -> Result<(libc::uid_t, libc::gid_t), PrivError> {
    let c = CString::new(name).map_err(|_| PrivError::NoUser(name.into()))?;
    // SAFETY: single-threaded use; the result is copied out at once.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if !pw.is_null() {
        let pw = unsafe { &*pw };
        return Ok((pw.pw_uid, pw.pw_gid));
    }
    let uid: libc::uid_t = name.parse().map_err(|_| PrivError::NoUser(name.into()))?;
    // A numeric uid with no passwd entry keeps its own number as gid.
    let pw = unsafe { libc::getpwuid(uid) };
    let gid = if pw.is_null() {
        uid
    } else {
        unsafe { (*pw).pw_gid }
    };
    Ok((uid, gid))
}

fn lookup_group(name: &str) -> Result<libc::gid_t, PrivError> {
    let c = CString::new(name).map_err(|_| PrivError::NoGroup(name.into()))?;
    // SAFETY: as above.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    if !gr.is_null() {
        return Ok(unsafe { (*gr).gr_gid });
    }
    name.parse().map_err(|_| PrivError::NoGroup(name.into()))
}

/// The name of a uid, for messages.
pub fn user_name(uid: libc::uid_t) -> Option<String> {
    let pw = unsafe { libc::getpwuid(uid) };
    if pw.is_null() {
        return None;
    }
    Some(
        unsafe { CStr::from_ptr((*pw).pw_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        assert_eq!(
            UserGroup::parse("nobody").unwrap(),
            UserGroup {
                user: Some("nobody".into()),
                group: None
            }
        );
        assert_eq!(
            UserGroup::parse(":nogroup").unwrap(),
            UserGroup {
                user: None,
                group: Some("nogroup".into())
            }
        );
        assert_eq!(
            UserGroup::parse("nobody:nogroup").unwrap(),
            UserGroup {
                user: Some("nobody".into()),
                group: Some("nogroup".into())
            }
        );
        assert_eq!(
            UserGroup::parse("").unwrap_err().to_string(),
            "Need to specify user and/or group: \"\""
        );
        assert_eq!(
            UserGroup::parse("root:").unwrap_err().to_string(),
            "Empty group name: \"root:\""
        );
        assert!(UserGroup::parse(":").is_err());
    }

    #[test]
    fn lookups() {
        assert_eq!(lookup_user("root").unwrap().0, 0);
        assert_eq!(lookup_user("0").unwrap().0, 0);
        assert!(lookup_user("no-such-user-xyz").is_err());
        assert_eq!(lookup_group("root").unwrap(), 0);
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }
}
