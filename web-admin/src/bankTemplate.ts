// The config a new console-managed bank starts from: every key at Mamori's default (see
// tenant-configs/README.md), names to fill in.

export const BANK_TEMPLATE = `name_ja = "〇〇信用金庫"
name_en = "Example Shinkin Bank"
service_name_ja = "〇〇インターネットバンキング"
service_name_en = "Example Internet Banking"

[password]
managed_by = "mamori"
min_length = 6
max_length = 12
require_letter = true
require_digit = true
forbid_user_id = true
history = 2
expiry_days = 90
lock_threshold = 5
auto_unlock_minutes = 0
force_change_on_first_login = true
force_change_after_reset = true

[otp]
algorithm = "SHA1"
digits = 6
period = 30
window = 1
resync_window = 10
hotp_look_ahead = 10
lock_threshold = 10
required_at_login = true
credential_kinds = ["totp"]

[registration]
mode = "one_code"

[transactions]
transfer = "otp"
payeasy = "otp"
deposit_cancellation = "otp"
savings_cancellation = "otp"
limit_change = "otp"
contract_change = "otp"

[push]
enabled = false
timeout_seconds = 120
number_challenge = false
webhook_allow_private = false

[self_issue]
enabled = false
activation_valid_days = 7
activation_max_attempts = 5
`;
