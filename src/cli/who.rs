//! Who runs this command: the operator named in audit records, the user a service runs as.

/// Returns the user running this process: `$USER`, `$LOGNAME` or `$USERNAME` when set (and not
/// blank), else — as under `sudo -i`, `su -` without a login shell, cron or a container, where
/// none is — the name of the effective user id from `/etc/passwd` (`root` for uid 0). `None`
/// only when none of these tells.
pub fn current_user() -> Option<String> {
    ["USER", "LOGNAME", "USERNAME"]
        .into_iter()
        .find_map(|k| std::env::var(k).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()))
        .or_else(user_of_uid)
}

#[cfg(unix)]
fn user_of_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    // `Uid:` lists the real, effective, saved and file-system ids: the effective one decides.
    let uid: u32 = status.lines().find(|l| l.starts_with("Uid:"))?.split_whitespace().nth(2)?.parse().ok()?;
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    name_of(&passwd, uid).or_else(|| (uid == 0).then(|| "root".to_owned()))
}

#[cfg(not(unix))]
fn user_of_uid() -> Option<String> {
    None
}

/// The name of `uid` in a `/etc/passwd` text (`name:x:uid:gid:…`).
#[cfg_attr(not(unix), allow(dead_code))]
fn name_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_uid_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\naegis:x:998:998::/var/lib/aegis:/usr/sbin/nologin\n";
        assert_eq!(name_of(passwd, 0).as_deref(), Some("root"));
        assert_eq!(name_of(passwd, 998).as_deref(), Some("aegis"));
        assert_eq!(name_of(passwd, 1000), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_uid_names_this_process_user() {
        // This process's effective user has a name in /etc/passwd (root in CI containers).
        assert!(user_of_uid().is_some_and(|u| !u.is_empty()));
    }
}
