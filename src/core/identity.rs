//! Who is acting: the name recorded as the author of silences and acknowledgements.

/// `$USER`, else `$LOGNAME`, else the name the password database gives the effective uid
/// (a cron job or `env -i` has neither variable), else `uid N`. Never empty.
pub fn operator_name() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .map(|name| name.trim().to_string())
        .find(|name| !name.is_empty())
        .or_else(passwd_name)
        .unwrap_or_else(|| format!("uid {}", current_uid()))
}

fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The login name of the effective uid from the password database (`getpwuid_r`).
fn passwd_name() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: passwd is plain old data; getpwuid_r fills it and points its strings into
    // `buf`, which outlives every read below.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the length given; `found` is set to `&pwd` or null.
    let rc = unsafe {
        libc::getpwuid_r(
            current_uid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points to a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    let name = name.to_string_lossy().trim().to_string();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_password_database_names_the_current_user() {
        // The uid running the tests has an entry (root in CI, a user elsewhere).
        let name = super::passwd_name().expect("a passwd entry for the current uid");
        assert!(!name.is_empty());
    }
}
