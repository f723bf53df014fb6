//! Key material a handler asks for when it needs it, so that it can be read after init and
//! replaced while the function runs (see `secrets::CachedSecret`, feature `secrets`).

use std::future::Future;
use std::sync::Arc;

/// Why no key could be had: the store behind it could not be read. Worth a retry.
#[derive(Debug, thiserror::Error)]
#[error("the key could not be read")]
pub struct KeyUnavailable;

/// Where a handler gets its current key of type `K`.
pub trait Keys<K> {
    fn current(&self) -> impl Future<Output = Result<Arc<K>, KeyUnavailable>>;
}

/// A key fixed for the life of the process (tests, or a key that never rotates).
impl<K> Keys<K> for Arc<K> {
    async fn current(&self) -> Result<Arc<K>, KeyUnavailable> {
        Ok(Arc::clone(self))
    }
}
