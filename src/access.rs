//! Who may act where: the caller is authenticated (its client certificate or bearer token,
//! `auth`) before anything else, and, once the request is known to be well-formed, authorized
//! for the tenant and organizer by the caller policy, which resolves the tenant. A tenant that
//! is not configured and one the caller may not use are the same refusal, so that callers
//! cannot enumerate tenants.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;

use crate::{
    auth::{Authenticator, Caller},
    domain::{TenantId, UserId},
    error::Error,
    tenants::{Tenant, TenantRegistry},
};

pub struct Access {
    auth: Arc<Authenticator>,
    tenants: Arc<TenantRegistry>,
}

impl Access {
    pub fn new(auth: Arc<Authenticator>, tenants: Arc<TenantRegistry>) -> Self {
        Access { auth, tenants }
    }

    /// The caller, from its client certificate chain and `authorization` metadata.
    pub fn authenticate(
        &self,
        peer_certs: Option<&[CertificateDer<'_>]>,
        authorization: Option<&str>,
    ) -> Result<Caller, Error> {
        Ok(self.auth.authenticate(peer_certs, authorization)?)
    }

    /// The tenant the caller may act in for this organizer.
    pub fn authorize(&self, caller: &Caller, tenant: &TenantId, organizer: &UserId) -> Result<Arc<Tenant>, Error> {
        if !self.auth.permits(caller, tenant, organizer) {
            return Err(Error::NotPermitted);
        }
        self.tenants.get(tenant).ok_or(Error::NotPermitted)
    }
}
