//! Which methods each route takes, for the `Allow` header of a 405 (RFC 9110 §15.5.6).
//!
//! The router only knows that a path exists with other methods; the OpenAPI document knows
//! which. Built once from the spec, so it can never disagree with it.

use serde_json::Value;

/// Path templates with their methods.
#[derive(Debug, Default, Clone)]
pub struct AllowTable {
    routes: Vec<(Template, Vec<&'static str>)>,
    /// Trees of paths that all take the same methods (static files).
    prefixes: Vec<(String, Vec<&'static str>)>,
}

/// A route's path template (`/v1/banks/{bank_id}/users`, or poem's `:bank_id`), to match
/// request paths against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

impl Template {
    pub(crate) fn parse(template: &str) -> Self {
        Self(
            split(template)
                .map(|s| {
                    if s.starts_with('{') || s.starts_with(':') {
                        Segment::Param
                    } else {
                        Segment::Literal(s.to_owned())
                    }
                })
                .collect(),
        )
    }

    /// Whether `path` is this route: every literal segment equal, every parameter non-empty.
    pub(crate) fn matches(&self, path: &str) -> bool {
        let mut parts = split(path);
        self.0.iter().all(|seg| match (seg, parts.next()) {
            (Segment::Param, Some(part)) => !part.is_empty(),
            (Segment::Literal(text), Some(part)) => text == part,
            (_, None) => false,
        }) && parts.next().is_none()
    }
}

const METHODS: [(&str, &str); 5] = [
    ("get", "GET"),
    ("post", "POST"),
    ("put", "PUT"),
    ("patch", "PATCH"),
    ("delete", "DELETE"),
];

impl AllowTable {
    /// The table of an OpenAPI document's `paths`.
    pub fn from_spec(spec: &str) -> Self {
        let mut table = Self::default();
        let Ok(doc) = serde_json::from_str::<Value>(spec) else {
            return table;
        };
        let Some(paths) = doc["paths"].as_object() else {
            return table;
        };
        for (template, item) in paths {
            let methods = METHODS
                .iter()
                .filter(|(key, _)| item.get(*key).is_some())
                .map(|(_, method)| *method)
                .collect();
            table.add(template, methods);
        }
        table
    }

    /// Adds a route outside the document (e.g. `/metrics`).
    pub fn with(mut self, template: &str, methods: Vec<&'static str>) -> Self {
        self.add(template, methods);
        self
    }

    /// Adds every path at or under `prefix`.
    pub fn with_prefix(mut self, prefix: &str, methods: Vec<&'static str>) -> Self {
        self.prefixes
            .push((prefix.trim_end_matches('/').to_owned(), methods));
        self
    }

    fn add(&mut self, template: &str, methods: Vec<&'static str>) {
        self.routes.push((Template::parse(template), methods));
    }

    /// The `Allow` value for `path`, if a route matches it: its methods, with `HEAD` where
    /// `GET` is allowed.
    pub fn allow(&self, path: &str) -> Option<String> {
        let mut allowed: Vec<&str> = Vec::new();
        for (prefix, methods) in &self.prefixes {
            let under = path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
            if under {
                for method in methods {
                    if !allowed.contains(method) {
                        allowed.push(method);
                    }
                }
            }
        }
        for (template, methods) in &self.routes {
            if template.matches(path) {
                for method in methods {
                    if !allowed.contains(method) {
                        allowed.push(method);
                    }
                }
            }
        }
        if allowed.contains(&"GET") {
            allowed.insert(
                allowed.iter().position(|m| *m == "GET").unwrap_or(0) + 1,
                "HEAD",
            );
        }
        (!allowed.is_empty()).then(|| allowed.join(", "))
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_gets_the_methods_of_its_template() {
        let spec = r#"{"paths":{
            "/v1/banks/{bank_id}/users": {"get": {}, "post": {}},
            "/v1/banks/{bank_id}/users/{user}/otp-use": {"post": {}, "delete": {}},
            "/v1/banks/{bank_id}/users/{user}/otp/verify": {"post": {}},
            "/healthz": {"get": {}}
        }}"#;
        let table = AllowTable::from_spec(spec)
            .with("/metrics", vec!["GET"])
            .with_prefix("/admin", vec!["GET"]);
        assert_eq!(
            table.allow("/admin/banks/jonan/customers").as_deref(),
            Some("GET, HEAD")
        );
        assert_eq!(table.allow("/admin").as_deref(), Some("GET, HEAD"));
        assert_eq!(table.allow("/administrator"), None);
        assert_eq!(
            table.allow("/v1/banks/jonan/users").as_deref(),
            Some("GET, HEAD, POST")
        );
        assert_eq!(
            table
                .allow("/v1/banks/jonan/users/usr_1/otp-use")
                .as_deref(),
            Some("POST, DELETE")
        );
        assert_eq!(
            table
                .allow("/v1/banks/jonan/users/usr_1/otp/verify")
                .as_deref(),
            Some("POST")
        );
        assert_eq!(table.allow("/metrics").as_deref(), Some("GET, HEAD"));
        assert_eq!(table.allow("/healthz/").as_deref(), Some("GET, HEAD"));
        assert_eq!(table.allow("/v1/banks//users"), None);
        assert_eq!(table.allow("/v1/nowhere"), None);
    }
}
