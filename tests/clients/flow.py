"""A bank's internet-banking system on the generated Python client, against a real server.

Environment: MAMORI_BASE_URL, MAMORI_BANK (a bank that registers tokens with one code),
MAMORI_API_KEY (that bank's key); the generated package `mamori_api_client` on PYTHONPATH.

Creates a contract user, provisions a soft token (keyless), registers it with the current
code, reads a wrong code as a typed `Problem` (`otp_invalid` with `attempts_left`), logs in
with the next step's code (the current one is spent; within the bank's window of one step,
so nothing waits), and reads its replay as `otp_already_used`. Every answer is the generated
model of its status. The codes are computed here (RFC 6238: HMAC-SHA1, 6 digits, 30 s).
"""

import base64
import hashlib
import hmac
import os
import struct
import sys
import time
import uuid

from mamori_api_client import AuthenticatedClient, Client
from mamori_api_client.api.bank import create_user, get_otp_status, register_credential, verify_otp
from mamori_api_client.api.token import provision_credential
from mamori_api_client.models import (
    CreateUserRequest,
    ErrorCode,
    OtpAcceptedDto,
    OtpRequest,
    OtpStatusDto,
    OtpUseDto,
    Problem,
    ProvisionedDto,
    ProvisionRequest,
    RegisterCredentialRequest,
    UserDto,
)


def totp(secret: str, step: int, digits: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def expect(response, status: int, model: type):
    assert response.status_code == status, (
        f"expected {status} {model.__name__}, got {response.status_code}: {response.content!r}"
    )
    assert isinstance(response.parsed, model), (
        f"{status} read as {type(response.parsed).__name__}, not {model.__name__}"
    )
    return response.parsed


def main() -> None:
    base_url = os.environ["MAMORI_BASE_URL"]
    bank = os.environ["MAMORI_BANK"]
    bank_client = AuthenticatedClient(base_url=base_url, token=os.environ["MAMORI_API_KEY"])
    token_client = Client(base_url=base_url)

    # A wrong key: a typed 401 Problem.
    stranger = AuthenticatedClient(base_url=base_url, token="mmr_wrong_key")
    problem = expect(
        create_user.sync_detailed(bank, client=stranger, body=CreateUserRequest(contract_number="1")),
        401,
        Problem,
    )
    assert problem.code == ErrorCode.UNAUTHORIZED, problem

    contract = f"C{uuid.uuid4().hex[:12]}"
    user = expect(
        create_user.sync_detailed(
            bank,
            client=bank_client,
            body=CreateUserRequest(contract_number=contract, user_id="user01", display_name="北九 太郎"),
        ),
        201,
        UserDto,
    )
    assert user.contract_number == contract and user.id.startswith("usr_"), user

    token = expect(
        provision_credential.sync_detailed(client=token_client, body=ProvisionRequest()),
        201,
        ProvisionedDto,
    )
    assert (token.algorithm, token.digits, token.period) == ("SHA1", 6, 30), token

    step = int(time.time()) // token.period
    status = expect(
        register_credential.sync_detailed(
            bank,
            user.id,
            client=bank_client,
            body=RegisterCredentialRequest(
                credential_id=token.credential_id, otp=totp(token.secret, step, token.digits)
            ),
        ),
        201,
        OtpStatusDto,
    )
    assert status.status == OtpUseDto.IN_USE and status.credential_id == token.credential_id, status
    attempts = status.attempts_left
    assert isinstance(attempts, int) and attempts > 1, status

    # A code of no step near now (window 1, and a step or two of slack for a slow machine).
    near = {totp(token.secret, s, token.digits) for s in range(step - 3, step + 4)}
    wrong = next(code for code in (f"{n:06d}" for n in range(1000)) if code not in near)
    problem = expect(
        verify_otp.sync_detailed(bank, user.id, client=bank_client, body=OtpRequest(otp=wrong)),
        422,
        Problem,
    )
    assert problem.code == ErrorCode.OTP_INVALID, problem
    assert problem.attempts_left == attempts - 1, (problem, attempts)
    assert problem.status == 422 and problem.request_id, problem

    # The registration spent this step; the next one is within the window, and accepted.
    login = totp(token.secret, step + 1, token.digits)
    accepted = expect(
        verify_otp.sync_detailed(bank, user.id, client=bank_client, body=OtpRequest(otp=login)),
        200,
        OtpAcceptedDto,
    )
    assert accepted.credential_id == token.credential_id, accepted

    problem = expect(
        verify_otp.sync_detailed(bank, user.id, client=bank_client, body=OtpRequest(otp=login)),
        409,
        Problem,
    )
    assert problem.code == ErrorCode.OTP_ALREADY_USED, problem

    status = expect(get_otp_status.sync_detailed(bank, user.id, client=bank_client), 200, OtpStatusDto)
    assert status.status == OtpUseDto.IN_USE and status.failures == 0, status
    print(f"flow passed: user {user.id}, credential {token.credential_id}")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"flow failed: {failure}", file=sys.stderr)
        raise
