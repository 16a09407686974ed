//! Bearer-token authentication of senders (`receivers.otlp.auth.bearer_token`): the SDKs and the collector's
//! exporters send `authorization: Bearer <token>` as a header (HTTP) or metadata (gRPC) when configured to.
//! A missing or wrong token is refused before the body is read: 401 / UNAUTHENTICATED, counted.

/// The token senders must present.
#[derive(Clone)]
pub struct BearerToken {
    expected: Vec<u8>,
}

impl BearerToken {
    /// A token; `None` when empty (config validation refuses that before it gets here).
    pub fn new(token: &str) -> Option<Self> {
        (!token.is_empty()).then(|| Self {
            expected: format!("Bearer {token}").into_bytes(),
        })
    }

    /// Whether an `authorization` value carries the token. Compared in constant time, so response timing does
    /// not reveal how much of a guess was right.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(given) = authorization else {
            return false;
        };
        if given.len() != self.expected.len() {
            return false;
        }
        given.iter().zip(&self.expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_value_is_accepted() {
        let t = BearerToken::new("s3cret").unwrap();
        assert!(t.accepts(Some(b"Bearer s3cret")));
        for wrong in [
            &b"Bearer s3creT"[..],
            b"Bearer s3cret ",
            b"bearer s3cret",
            b"s3cret",
            b"",
        ] {
            assert!(!t.accepts(Some(wrong)), "{:?}", String::from_utf8_lossy(wrong));
        }
        assert!(!t.accepts(None));
        assert!(BearerToken::new("").is_none());
    }
}
