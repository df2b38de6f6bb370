//! Browser origins, as `server { cors … }` and `ward serve --cors-origin` name them.
//!
//! A browser sends `Origin: scheme://host[:port]` — no path, no trailing slash, the host in lower
//! case — and CORS compares it byte for byte. An origin written any other way would never match,
//! so it is refused here rather than silently allowing nothing.

/// The origin in the form browsers send it, or why it cannot be one. `*` (any origin) is kept.
pub fn normalize(origin: &str) -> Result<String, String> {
    if origin == "*" {
        return Ok(origin.to_owned());
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err("an origin is `scheme://host[:port]`, e.g. `https://app.example.com`".into());
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "the scheme `{scheme}` is not one a browser sends: use http or https"
        ));
    }
    if rest.contains(['/', '?', '#']) {
        return Err(
            "an origin has no path, query or trailing slash: browsers send `scheme://host[:port]`"
                .into(),
        );
    }
    if rest.contains('@') {
        return Err("an origin has no user name or password".into());
    }
    let (host, port) = if rest.starts_with('[') {
        match rest.find(']') {
            Some(end) => match &rest[end + 1..] {
                "" => (&rest[..=end], None),
                tail => (&rest[..=end], Some(tail.strip_prefix(':').unwrap_or(tail))),
            },
            None => (rest, None),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Err(format!(
            "the port `{port}` is not a number between 1 and 65535"
        ));
    }
    let bracketed = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !(plain || bracketed) || host.contains('*') {
        return Err(format!(
            "`{host}` is not a host name; wildcards other than a lone `*` are not supported"
        ));
    }
    let host = host.to_ascii_lowercase();
    Ok(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn origins_are_kept_as_browsers_send_them() {
        assert_eq!(
            normalize("https://App.Example.com").as_deref(),
            Ok("https://app.example.com")
        );
        assert_eq!(
            normalize("http://localhost:5173").as_deref(),
            Ok("http://localhost:5173")
        );
        assert_eq!(
            normalize("http://[::1]:3000").as_deref(),
            Ok("http://[::1]:3000")
        );
        assert_eq!(normalize("http://[::1]").as_deref(), Ok("http://[::1]"));
        assert_eq!(normalize("*").as_deref(), Ok("*"));
    }

    #[test]
    fn anything_a_browser_never_sends_is_refused() {
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "ftp://app.example.com",
            "https://*.example.com",
            "https://user@app.example.com",
            "https://app.example.com:0",
            "https://app.example.com:99999",
            "https://app.example.com:",
            "https://",
            "https://app example.com",
            "http://[::1",
            "http://[::1]x",
        ] {
            assert!(normalize(bad).is_err(), "{bad} was accepted");
        }
    }
}
