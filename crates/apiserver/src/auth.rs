//! Who is calling and what they may do. Authentication is by client certificate;
//! authorization admits every authenticated user until RBAC arrives.

use crate::status::ApiError;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

/// Paths anyone may read, as upstream's default roles allow for unauthenticated users.
pub fn is_public(path: &str) -> bool {
    matches!(path, "/livez" | "/readyz" | "/healthz" | "/version")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
        || path.starts_with("/healthz/")
}

/// Admits authenticated users to everything; the seam where RBAC will decide.
pub fn authorize(user: Option<&User>, path: &str) -> Result<(), ApiError> {
    if is_public(path) {
        return Ok(());
    }
    match user {
        Some(_) => Ok(()),
        None => Err(ApiError::Unauthorized {
            message: "Unauthorized".into(),
        }),
    }
}
