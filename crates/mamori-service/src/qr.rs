//! QR codes of `otpauth://` URIs, as SVG for a page to show.

use crate::error::ServiceError;

/// The URI as a QR code, SVG, at least 200×200.
pub(crate) fn svg(uri: &str) -> Result<String, ServiceError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(ServiceError::internal)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}
