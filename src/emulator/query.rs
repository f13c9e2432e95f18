//! The OData query options of a Graph request that the emulator reads
//! (`$select`, `$top`, `$skiptoken`, and `$filter` where a route serves
//! one), and the first one it does not implement (`$search`, ...), which
//! the request is refused for.

/// The OData query options the emulator reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pub select: Option<String>,
    pub top: Option<String>,
    pub skiptoken: Option<String>,
    /// Refused by every route but the two that serve one filter.
    pub filter: Option<String>,
    /// An option the emulator does not implement (`$search`, ...).
    pub unsupported: Option<String>,
    /// `$expand` was given (refused as unsupported, but it still costs
    /// Graph's resource unit).
    pub expand: bool,
}

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let mut q = Query::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let name = key.strip_prefix('$').unwrap_or(&key).to_ascii_lowercase();
            let slot = match name.as_str() {
                "select" => &mut q.select,
                "top" => &mut q.top,
                "skiptoken" => &mut q.skiptoken,
                "filter" => &mut q.filter,
                "search" | "orderby" | "expand" | "count" | "skip" => {
                    q.expand |= name == "expand";
                    q.unsupported
                        .get_or_insert_with(|| key.clone().into_owned());
                    continue;
                }
                _ => continue,
            };
            slot.get_or_insert_with(|| value.into_owned());
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let q = Query::parse(Some(
            "%24select=id,accountEnabled&$top=5&$skiptoken=abc&api-version=1",
        ));
        assert_eq!(q.select.as_deref(), Some("id,accountEnabled"));
        assert_eq!(q.top.as_deref(), Some("5"));
        assert_eq!(q.skiptoken.as_deref(), Some("abc"));
        assert_eq!(q.unsupported, None);
        let q = Query::parse(Some("$filter=principalId%20eq%20'x'"));
        assert_eq!(
            (q.filter.as_deref(), q.unsupported),
            (Some("principalId eq 'x'"), None)
        );
        assert_eq!(
            Query::parse(Some("$search=x")).unsupported.as_deref(),
            Some("$search")
        );
        assert_eq!(Query::parse(None), Query::default());
        let q = Query::parse(Some("$expand=manager"));
        assert!(q.expand);
        assert_eq!(q.unsupported.as_deref(), Some("$expand"));
    }
}
