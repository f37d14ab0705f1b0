//! Who the client is behind a load balancer: only a request from a trusted proxy
//! (`--trusted-proxies`) has its client read from `X-Forwarded-For` / `Forwarded`; rate limits
//! count that client (an IPv6 client by its /64) and the audit trail records its address.
//! From anyone else the headers are ignored: a client cannot pick its own bucket.

use mamori_domain::RateLimit;
use mamori_store::entities::audit_events;
use mamori_testkit::{Answer, TestApp, TestEngine, on_both_engines};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

/// The load balancer's address.
const LB: &str = "10.0.0.7";

/// Two tokens an hour per client: small enough to exhaust in a test.
async fn app_behind_lb(engine: TestEngine) -> TestApp {
    TestApp::configured(engine, |services| {
        services.keyless_limit(RateLimit::per_hour(2))
    })
    .await
    .trusting(&["10.0.0.0/8"])
}

async fn provision(app: &TestApp, peer: &str, headers: &[(&str, String)]) -> Answer {
    app.call_from(
        peer,
        "POST",
        "/v1/token/credentials",
        headers,
        Some(json!({})),
    )
    .await
}

fn forwarded_for(client: &str) -> Vec<(&'static str, String)> {
    vec![("x-forwarded-for", client.to_owned())]
}

/// Provisions until the client's limit refuses; returns how many were created.
async fn provisions_until_limited(app: &TestApp, peer: &str, client: &str) -> usize {
    for created in 0..10 {
        let answer = provision(app, peer, &forwarded_for(client)).await;
        match answer.status {
            201 => {}
            429 => {
                assert_eq!(answer.code(), Some("rate_limited"), "{:?}", answer.body);
                assert!(answer.header("retry-after").is_some());
                return created;
            }
            other => panic!("{other}: {:?}", answer.body),
        }
    }
    panic!("{client} via {peer} was never limited");
}

async fn behind_a_trusted_proxy_each_client_has_its_own_bucket(engine: TestEngine) {
    let app = app_behind_lb(engine).await;
    assert_eq!(provisions_until_limited(&app, LB, "203.0.113.1").await, 2);
    // Another customer behind the same load balancer is not refused.
    assert_eq!(provisions_until_limited(&app, LB, "203.0.113.2").await, 2);
    // A client that prepends a made-up address is still itself: the load balancer appended
    // the real one, and the header is read from the right.
    let spoofed = provision(
        &app,
        LB,
        &[("x-forwarded-for", "198.51.100.99, 203.0.113.1".to_owned())],
    )
    .await;
    assert_eq!(spoofed.status, 429, "{:?}", spoofed.body);
    // RFC 7239 `Forwarded` names the client as well.
    let rfc = provision(
        &app,
        LB,
        &[("forwarded", "for=203.0.113.1;proto=https".to_owned())],
    )
    .await;
    assert_eq!(rfc.status, 429, "{:?}", rfc.body);
    let fresh = provision(
        &app,
        LB,
        &[("forwarded", "for=\"203.0.113.3:51000\"".to_owned())],
    )
    .await;
    assert_eq!(fresh.status, 201, "{:?}", fresh.body);

    // The audit trail records the client, not the load balancer.
    let credential = fresh.body["credential_id"].as_str().unwrap();
    app.state.services.audit.seal_all().await.unwrap();
    let entry = audit_events::Entity::find()
        .filter(audit_events::Column::CredentialId.eq(credential))
        .order_by_desc(audit_events::Column::Id)
        .one(app.db.connection())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.client_addr.as_deref(), Some("203.0.113.3"));
}
on_both_engines!(behind_a_trusted_proxy_each_client_has_its_own_bucket);

async fn an_untrusted_peer_cannot_pick_its_bucket(engine: TestEngine) {
    let app = app_behind_lb(engine).await;
    // Straight to Mamori, not through the load balancer: the header is the client's own
    // invention, so every request counts against its real address.
    let attacker = "198.51.100.7";
    assert_eq!(
        provisions_until_limited(&app, attacker, "203.0.113.1").await,
        2
    );
    let another_claim = provision(&app, attacker, &forwarded_for("203.0.113.2")).await;
    assert_eq!(another_claim.status, 429, "{:?}", another_claim.body);
    let rfc = provision(&app, attacker, &[("forwarded", "for=192.0.2.1".to_owned())]).await;
    assert_eq!(rfc.status, 429, "{:?}", rfc.body);
    // The customers it pretended to be still have their whole quota behind the load balancer.
    assert_eq!(provisions_until_limited(&app, LB, "203.0.113.1").await, 2);

    // Without any trusted proxy, the load balancer itself is the one client every customer
    // behind it shares — what happens when `--trusted-proxies` is not set.
    let untrusting = TestApp::configured(engine, |services| {
        services.keyless_limit(RateLimit::per_hour(2))
    })
    .await;
    assert_eq!(
        provisions_until_limited(&untrusting, LB, "203.0.113.1").await,
        2
    );
    let other_customer = provision(&untrusting, LB, &forwarded_for("203.0.113.2")).await;
    assert_eq!(other_customer.status, 429, "{:?}", other_customer.body);
}
on_both_engines!(an_untrusted_peer_cannot_pick_its_bucket);

async fn unreadable_headers_from_the_proxy_count_as_the_proxy(engine: TestEngine) {
    let app = app_behind_lb(engine).await;
    // Garbage in the header: the load balancer itself is the client, a bucket no honest
    // customer shares.
    assert_eq!(
        provisions_until_limited(&app, LB, "not-an-address").await,
        2
    );
    let unknown = provision(&app, LB, &[("forwarded", "for=unknown".to_owned())]).await;
    assert_eq!(unknown.status, 429, "{:?}", unknown.body);
    assert_eq!(provisions_until_limited(&app, LB, "203.0.113.1").await, 2);
}
on_both_engines!(unreadable_headers_from_the_proxy_count_as_the_proxy);

async fn ipv6_clients_share_a_bucket_per_64(engine: TestEngine) {
    let app = app_behind_lb(engine).await;
    // One subscriber's /64: a host that can take any of its 2^64 addresses is one client.
    assert_eq!(
        provision(&app, LB, &forwarded_for("2001:db8:1:2::1"))
            .await
            .status,
        201
    );
    let same_64 = provision(&app, LB, &forwarded_for("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).await;
    assert_eq!(same_64.status, 201, "{:?}", same_64.body);
    let third = provision(&app, LB, &forwarded_for("[2001:db8:1:2::ffff]:443")).await;
    assert_eq!(third.status, 429, "{:?}", third.body);
    // The next /64 is another client, and the audit keeps the full address.
    let next = provision(&app, LB, &forwarded_for("2001:db8:1:3::1")).await;
    assert_eq!(next.status, 201, "{:?}", next.body);
    app.state.services.audit.seal_all().await.unwrap();
    let entry = audit_events::Entity::find()
        .filter(audit_events::Column::CredentialId.eq(next.body["credential_id"].as_str().unwrap()))
        .one(app.db.connection())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.client_addr.as_deref(), Some("2001:db8:1:3::1"));
    // A direct IPv6 peer is grouped the same way; an IPv4-mapped one is its IPv4 address.
    let direct = TestApp::configured(engine, |services| {
        services.keyless_limit(RateLimit::per_hour(1))
    })
    .await;
    assert_eq!(provision(&direct, "2001:db8:9:9::1", &[]).await.status, 201);
    assert_eq!(provision(&direct, "2001:db8:9:9::2", &[]).await.status, 429);
    assert_eq!(
        provision(&direct, "::ffff:192.0.2.5", &[]).await.status,
        201
    );
    assert_eq!(provision(&direct, "192.0.2.5", &[]).await.status, 429);
}
on_both_engines!(ipv6_clients_share_a_bucket_per_64);
