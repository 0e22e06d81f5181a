//! Resynchronising a token that drifted: by its holder, or by the bank.

use actix_web::{post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::otp_code::OtpCode;
use crate::error::{AppError, Fields};
use crate::service::resync;

use super::extract::{BankOperator, SignedIn};
use super::json::Json;
use super::otp::{TokenView, otp};
use super::{State, blocking};

/// Two codes the token shows one after the other (for HOTP: two presses in a row).
#[derive(Deserialize, ToSchema)]
pub struct ResyncRequest {
    #[schema(example = "123456", pattern = "^[0-9]{6,8}$")]
    pub otp: String,
    /// The code right after `otp`.
    #[schema(example = "654321", pattern = "^[0-9]{6,8}$")]
    pub next_otp: String,
}

impl ResyncRequest {
    fn into_domain(self) -> Result<(OtpCode, OtpCode), AppError> {
        let mut f = Fields::default();
        let first = otp(&mut f, "otp", &self.otp);
        let second = otp(&mut f, "next_otp", &self.next_otp);
        f.finish()?;
        Ok((first?, second?))
    }
}

/// Resynchronises the caller's own token whose clock or counter drifted beyond the
/// window, from two consecutive codes: the drift found is kept for later codes, and both
/// codes are spent. Wrong pairs count toward the token's lock.
#[utoipa::path(
    operation_id = "resyncMyToken",
    tag = "me",
    security(("bearer" = [])),
    request_body = ResyncRequest,
    responses((status = 200, body = TokenView))
)]
#[post("/me/token/resync")]
pub(super) async fn resync_my_token(
    who: SignedIn,
    body: Json<ResyncRequest>,
) -> Result<web::Json<TokenView>, AppError> {
    let input = body.into_inner().and_then(|body| body.into_domain());
    let token = who
        .run(move |db, svc, who| {
            let codes = input?;
            resync::own(db, svc, who, codes)
        })
        .await?;
    Ok(web::Json(TokenView::from(&token)))
}

/// The bank resynchronises a person's token with two consecutive codes the person reads
/// out (e.g. over the telephone, after checking who calls).
#[utoipa::path(
    operation_id = "resyncPersonToken",
    tag = "bank",
    security(("bearer" = [])),
    params(("person_id" = uuid::Uuid, Path, description = "The person's id")),
    request_body = ResyncRequest,
    responses((status = 200, body = TokenView))
)]
#[post("/bank/people/{person_id}/token/resync")]
pub(super) async fn resync_person_token(
    state: State,
    who: BankOperator,
    path: web::Path<uuid::Uuid>,
    body: Json<ResyncRequest>,
) -> Result<web::Json<TokenView>, AppError> {
    let codes = body.into_inner()?.into_domain()?;
    let id = path.into_inner().to_string();
    let token = blocking(&state, move |db, svc| {
        resync::for_person(db, svc, &who.0, &id, codes)
    })
    .await?;
    Ok(web::Json(TokenView::from(&token)))
}
