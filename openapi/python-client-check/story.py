"""The corporate story of webfb, played through a Python client GENERATED from
openapi/openapi.json by openapi-python-client (run.sh generates and installs it as
`webfb_client`): the same corporate part as ../client-check/src/scenario.ts (`story()`).

Every call goes through the generated typed functions (`<operation>.sync_detailed(...)`) with
the generated models as request bodies; a success is checked on its status and on the parsed
model (a body the model cannot read fails the step). A refusal is checked on its status, its
content type and the `code` of its RFC 9457 problem body, read from the raw JSON, so the
check does not depend on how the document names its error schemas.

Env: WEBFB_URL (e.g. http://127.0.0.1:18990), WEBFB_OPERATOR_LOGIN_ID, WEBFB_OPERATOR_PASSWORD.
Prints "ok N <step>" or "FAIL N <step>" per step and, last, "N passed, M failed"; exits 1 if
anything failed. A failed step ends the story: the next ones need its result.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import httpx
import pyotp

from webfb_client import AuthenticatedClient, Client
from webfb_client.api.approvals import approve_transfer, reject_transfer, set_approval_policy
from webfb_client.api.auth import login
from webfb_client.api.bank import bank_login, create_company
from webfb_client.api.me import get_me
from webfb_client.api.otp import register_admin_token, register_user_token, set_otp_mode
from webfb_client.api.soft_tokens import issue_soft_token
from webfb_client.api.transfers import confirm_transfer, create_transfer, get_transfer, list_transfers
from webfb_client.api.users import create_user
from webfb_client.models import (
    AccountType,
    ApprovalPolicyView,
    ApprovalView,
    CompanyDetail,
    ConfirmationMethod,
    ConfirmWithOtp,
    ConfirmWithTransferPassword,
    CreateCompanyRequest,
    CreateTransferRequest,
    CreateUserRequest,
    Decision,
    IssuedTokenView,
    LoginRequest,
    LoginResponse,
    MeView,
    NewAdminRequest,
    OperatorLoginResponse,
    OtpSettingsView,
    OtpStatus,
    PayeeRequest,
    RegisterTokenRequest,
    RejectTransferRequest,
    Role,
    SetApprovalPolicyRequest,
    SetModeRequest,
    TokenMode,
    TokenStatus,
    TokenView,
    TransferList,
    TransferMethod,
    TransferStatus,
    TransferView,
    UserView,
)
from webfb_client.types import Response

T = TypeVar("T")


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"environment variable {name} is not set")
    return value


BASE_URL = env("WEBFB_URL").rstrip("/")
OPERATOR_LOGIN_ID = env("WEBFB_OPERATOR_LOGIN_ID")
OPERATOR_PASSWORD = env("WEBFB_OPERATOR_PASSWORD")
# A debug build hashes passwords slowly on a busy machine.
TIMEOUT = httpx.Timeout(60.0)

anonymous = Client(base_url=BASE_URL, timeout=TIMEOUT)


def signed_in(access_token: str) -> AuthenticatedClient:
    """A client that sends `Authorization: Bearer <access_token>` with every request."""
    return AuthenticatedClient(base_url=BASE_URL, token=access_token, timeout=TIMEOUT)


# ---------------------------------------------------------------------------------------
# Steps and their bookkeeping.


class StepFailure(Exception):
    def __init__(self, message: str, body: object = None) -> None:
        super().__init__(message)
        self.body = body


class Aborted(Exception):
    """Raised after a failed step: the story cannot go on without its result."""


passed = 0
failed = 0
step_no = 0


def show(body: object) -> str:
    to_dict = getattr(body, "to_dict", None)
    if callable(to_dict):
        body = to_dict()
    text = body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False, default=str)
    return text.replace("\n", "\n     ")


def step(name: str, run: Callable[[], T]) -> T:
    global passed, failed, step_no
    step_no += 1
    n = f"{step_no:2d}"
    try:
        value = run()
    except Exception as err:
        failed += 1
        print(f"FAIL {n}  {name}")
        if isinstance(err, StepFailure):
            print(f"     {err}")
            if err.body is not None:
                print(f"     body: {show(err.body)}")
        else:
            print("     " + traceback.format_exc().rstrip().replace("\n", "\n     "))
        sys.stdout.flush()
        raise Aborted() from err
    passed += 1
    print(f"ok  {n}  {name}")
    sys.stdout.flush()
    return value


def expect(condition: bool, message: str, body: object = None) -> None:
    if not condition:
        raise StepFailure(message, body)


def expect_equal(actual: object, expected: object, what: str, body: object = None) -> None:
    expect(actual == expected, f"{what}: expected {expected!r}, got {actual!r}", body)


def raw(response: Response[Any]) -> object:
    """The response body as the server sent it: JSON if it is JSON, text otherwise."""
    try:
        return json.loads(response.content)
    except ValueError:
        return response.content.decode("utf-8", errors="replace")


def ok(response: Response[Any], status: int, model: type[T]) -> T:
    """The parsed success body of a call that must answer `status` with a `model`."""
    parsed = response.parsed
    if response.status_code != status or not isinstance(parsed, model):
        raise StepFailure(
            f"expected HTTP {status} with a {model.__name__}, got HTTP {int(response.status_code)} "
            f"({type(parsed).__name__})",
            raw(response),
        )
    return parsed


def refused(response: Response[Any], status: int, code: str) -> dict[str, Any]:
    """The problem body of a call that must fail with `status` and `code` (from the raw JSON)."""
    body = raw(response)
    expect_equal(int(response.status_code), status, "HTTP status", body)
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    expect_equal(content_type, "application/problem+json", "content type", body)
    expect(isinstance(body, dict), "the problem body is not a JSON object", body)
    assert isinstance(body, dict)
    expect_equal(body.get("status"), status, "problem status", body)
    expect_equal(body.get("code"), code, "problem code", body)
    return body


# ---------------------------------------------------------------------------------------
# Helpers a front-end would have.

suffix = secrets.token_hex(4)


def digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


def password(tag: str) -> str:
    """A password of the policy's shape: >= 10 characters, letters and digits, not the login ID."""
    return f"{tag}-{secrets.token_urlsafe(6)}-7q{digits(4)}"


def tomorrow_in_japan() -> datetime.date:
    """Tomorrow's date in Japan (UTC+9, no daylight saving)."""
    japan_now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=9)
    return japan_now.date() + datetime.timedelta(days=1)


def authenticator(uri: str) -> pyotp.TOTP:
    """The authenticator app: reads the `otpauth://` URI the server issued."""
    otp = pyotp.parse_uri(uri)
    if not isinstance(otp, pyotp.TOTP):
        raise StepFailure(f"the issued URI is not a TOTP URI: {uri}")
    return otp


def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step. A registration spends the current step's code; the
    server accepts +-1 step, so the next code is the first one both valid and unused."""
    return totp.at(int(time.time()) + totp.interval)


def issue_token(api: AuthenticatedClient) -> IssuedTokenView:
    token = ok(issue_soft_token.sync_detailed(client=api), 201, IssuedTokenView)
    expect(re.fullmatch(r"[A-Z]{4}[0-9]{8}", token.token_id) is not None, f"token_id {token.token_id}", token)
    expect(token.otpauth_uri.startswith("otpauth://totp/"), "otpauth_uri", token)
    expect(len(token.qr_png_base64) > 0, "qr_png_base64 is empty", token)
    return token


def sign_in(login_id: str, secret: str) -> LoginResponse:
    """A session (200), not a code step (202 SignInChallenge)."""
    return ok(
        login.sync_detailed(client=anonymous, body=LoginRequest(login_id=login_id, password=secret)), 200, LoginResponse
    )


def payee() -> PayeeRequest:
    return PayeeRequest(
        bank_code="0001",
        branch_code="123",
        account_type=AccountType.ORDINARY,
        account_number="7654321",
        name="ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ",
    )


def token_status(token: object) -> TokenStatus | None:
    return token.status if isinstance(token, TokenView) else None


def approval_of(transfer: TransferView) -> ApprovalView:
    expect(isinstance(transfer.approval, ApprovalView), "the transfer has no approval", transfer)
    assert isinstance(transfer.approval, ApprovalView)
    return transfer.approval


# ---------------------------------------------------------------------------------------
# The story.


def story() -> None:
    admin_login = f"ci.admin.{suffix}"
    user_login = f"ci.user.{suffix}"
    debit_account = f"001-{digits(7)}"
    admin_password, admin_approval, admin_transfer = password("Admin"), password("Approve"), password("AdminXfer")
    user_password, user_transfer = password("User"), password("UserXfer")

    # The bank.
    def bank_signs_in() -> AuthenticatedClient:
        body = ok(
            bank_login.sync_detailed(
                client=anonymous, body=LoginRequest(login_id=OPERATOR_LOGIN_ID, password=OPERATOR_PASSWORD)
            ),
            200,
            OperatorLoginResponse,
        )
        expect_equal(body.token_type, "Bearer", "token_type", body)
        expect_equal(body.operator.login_id, OPERATOR_LOGIN_ID, "operator.login_id", body)
        return signed_in(body.access_token)

    operator = step("bank operator signs in", bank_signs_in)

    def bank_creates_company() -> None:
        company = ok(
            create_company.sync_detailed(
                client=operator,
                body=CreateCompanyRequest(
                    name=f"CI商事株式会社 {suffix}",
                    transfer_limit=5_000_000,
                    accounts=[debit_account],
                    admin=NewAdminRequest(
                        login_id=admin_login,
                        name="CI 管理者",
                        password=admin_password,
                        approval_password=admin_approval,
                        transfer_password=admin_transfer,
                    ),
                ),
            ),
            201,
            CompanyDetail,
        )
        expect_equal(company.admin.login_id, admin_login, "admin.login_id", company)
        expect_equal(company.otp_status, OtpStatus.INACTIVE, "otp_status", company)
        expect_equal(company.transfer_limit, 5_000_000, "transfer_limit", company)
        expect(debit_account in company.accounts, "accounts", company)

    step("bank creates a company with its administrator", bank_creates_company)

    # The administrator.
    def admin_signs_in() -> AuthenticatedClient:
        body = sign_in(admin_login, admin_password)
        expect_equal(body.user.role, Role.ADMIN, "user.role", body)
        return signed_in(body.access_token)

    admin = step("administrator signs in", admin_signs_in)

    def per_user_mode() -> None:
        settings = ok(
            set_otp_mode.sync_detailed(
                client=admin, body=SetModeRequest(mode=TokenMode.PER_USER, approval_password=admin_approval)
            ),
            200,
            OtpSettingsView,
        )
        expect_equal(settings.mode, TokenMode.PER_USER, "mode", settings)
        expect_equal(settings.status, OtpStatus.INACTIVE, "status", settings)

    step("administrator sets per_user mode", per_user_mode)

    admin_token = step("administrator issues a token", lambda: issue_token(admin))
    admin_totp = authenticator(admin_token.otpauth_uri)

    def register_own_token() -> None:
        settings = ok(
            register_admin_token.sync_detailed(
                client=admin,
                body=RegisterTokenRequest(
                    token_id=admin_token.token_id, otp=admin_totp.now(), approval_password=admin_approval
                ),
            ),
            200,
            OtpSettingsView,
        )
        expect_equal(settings.status, OtpStatus.ACTIVE, "status", settings)
        expect_equal(token_status(settings.admin_token), TokenStatus.ACTIVE, "admin_token.status", settings)

    step("administrator registers own token with its code: OTP active", register_own_token)

    def creates_user() -> UUID:
        created = ok(
            create_user.sync_detailed(
                client=admin,
                body=CreateUserRequest(
                    login_id=user_login,
                    name="CI 利用者",
                    password=user_password,
                    transfer_password=user_transfer,
                    can_transfer=True,
                ),
            ),
            201,
            UserView,
        )
        expect_equal(created.role, Role.USER, "role", created)
        expect_equal(created.can_transfer, True, "can_transfer", created)
        return created.id

    user_id = step("administrator creates a user who may transfer", creates_user)

    user_token = step("administrator issues the user's token", lambda: issue_token(admin))
    user_totp = authenticator(user_token.otpauth_uri)

    def registers_user_token() -> None:
        settings = ok(
            register_user_token.sync_detailed(
                user_id,
                client=admin,
                body=RegisterTokenRequest(
                    token_id=user_token.token_id, otp=user_totp.now(), approval_password=admin_approval
                ),
            ),
            200,
            OtpSettingsView,
        )
        row = next((u for u in settings.users if u.user_id == user_id), None)
        expect(row is not None, "the user is not on the OTP screen", settings)
        assert row is not None
        expect_equal(token_status(row.token), TokenStatus.ACTIVE, "user's token status", settings)
        expect_equal(row.ready, True, "user's ready", settings)
        expect(
            all(u.user_id != user_id for u in settings.users_without_token),
            "the user is still listed without a token",
            settings,
        )

    step("administrator registers the user's token with its code", registers_user_token)

    # The user.
    def user_signs_in() -> AuthenticatedClient:
        body = sign_in(user_login, user_password)
        expect_equal(body.user.id, user_id, "user.id", body)
        return signed_in(body.access_token)

    user = step("user signs in", user_signs_in)

    def me_needs_code() -> None:
        me = ok(get_me.sync_detailed(client=user), 200, MeView)
        expect_equal(me.transfer_confirmation, ConfirmationMethod.OTP, "transfer_confirmation", me)
        expect_equal(token_status(me.token), TokenStatus.ACTIVE, "token.status", me)

    step("user's next transfer needs a code (GET /me)", me_needs_code)

    def user_creates_transfer() -> TransferView:
        transfer = ok(
            create_transfer.sync_detailed(
                client=user,
                idempotency_key=str(uuid.uuid4()),
                body=CreateTransferRequest(
                    debit_account=debit_account,
                    payee=payee(),
                    amount=12_345,
                    execution_date=tomorrow_in_japan(),
                    memo="python-client-check",
                ),
            ),
            201,
            TransferView,
        )
        expect_equal(transfer.status, TransferStatus.PENDING_CONFIRMATION, "status", transfer)
        expect_equal(transfer.amount, 12_345, "amount", transfer)
        expect_equal(transfer.confirmation.method, TransferMethod.OTP, "confirmation.method", transfer)
        expect_equal(transfer.confirmation.ready, True, "confirmation.ready", transfer)
        expect_equal(transfer.created_by, user_id, "created_by", transfer)
        return transfer

    first = step("user creates a transfer: it waits for a code", user_creates_transfer)

    step(
        "the transfer password is refused once OTP is active (otp_required)",
        lambda: refused(
            confirm_transfer.sync_detailed(
                first.id, client=user, body=ConfirmWithTransferPassword(transfer_password=user_transfer)
            ),
            422,
            "otp_required",
        ),
    )

    # The registration spent the current time step: the next step's code is the first one
    # that is both valid and unused.
    code = next_code(user_totp)

    def user_confirms() -> None:
        confirmed = ok(
            confirm_transfer.sync_detailed(first.id, client=user, body=ConfirmWithOtp(otp=code)), 200, TransferView
        )
        expect_equal(confirmed.status, TransferStatus.CONFIRMED, "status", confirmed)
        expect_equal(confirmed.confirmation.method, TransferMethod.OTP, "confirmation.method", confirmed)
        expect(isinstance(confirmed.confirmed_at, datetime.datetime), "confirmed_at is not set", confirmed)

    step("user confirms the transfer with a code", user_confirms)

    second = step("user creates a second transfer", user_creates_transfer)

    def code_replayed() -> None:
        problem = refused(
            confirm_transfer.sync_detailed(second.id, client=user, body=ConfirmWithOtp(otp=code)), 409, "otp_replayed"
        )
        problem_type = str(problem.get("type", ""))
        expect(problem_type.endswith("otp_replayed"), f"problem type {problem_type}", problem)

    step("the same code is refused for it (otp_replayed)", code_replayed)

    def still_pending() -> None:
        transfer = ok(get_transfer.sync_detailed(second.id, client=user), 200, TransferView)
        expect_equal(transfer.status, TransferStatus.PENDING_CONFIRMATION, "status", transfer)

    step("the second transfer is still pending", still_pending)

    # Four eyes: the administrator's transfer waits for an approver's own code.
    approver_login = f"ci.approver.{suffix}"
    approver_password, approver_transfer = password("Approver"), password("ApprXfer")

    def adds_approver() -> UUID:
        created = ok(
            create_user.sync_detailed(
                client=admin,
                body=CreateUserRequest(
                    login_id=approver_login,
                    name="CI 承認者",
                    password=approver_password,
                    transfer_password=approver_transfer,
                    can_transfer=False,
                    can_approve=True,
                ),
            ),
            201,
            UserView,
        )
        expect_equal(created.can_approve, True, "can_approve", created)
        return created.id

    approver_id = step("administrator adds an approver (approver permission)", adds_approver)

    def approver_token() -> pyotp.TOTP:
        token = issue_token(admin)
        totp = authenticator(token.otpauth_uri)
        settings = ok(
            register_user_token.sync_detailed(
                approver_id,
                client=admin,
                body=RegisterTokenRequest(token_id=token.token_id, otp=totp.now(), approval_password=admin_approval),
            ),
            200,
            OtpSettingsView,
        )
        row = next((u for u in settings.users if u.user_id == approver_id), None)
        expect(row is not None and token_status(row.token) == TokenStatus.ACTIVE, "approver's token", settings)
        return totp

    approver_totp = step("the approver's own token is registered", approver_token)

    def approval_policy() -> None:
        policy = ok(
            set_approval_policy.sync_detailed(
                client=admin,
                body=SetApprovalPolicyRequest(
                    enabled=True, min_amount=0, approvals_required=1, approval_password=admin_approval
                ),
            ),
            200,
            ApprovalPolicyView,
        )
        expect_equal(policy.enabled, True, "enabled", policy)
        expect_equal(policy.approvals_required, 1, "approvals_required", policy)

    step("administrator sets the approval policy: every transfer, one approval", approval_policy)

    def admin_transfer_waits() -> TransferView:
        created = ok(
            create_transfer.sync_detailed(
                client=admin,
                idempotency_key=str(uuid.uuid4()),
                body=CreateTransferRequest(
                    debit_account=debit_account, payee=payee(), amount=2_000_000, execution_date=tomorrow_in_japan()
                ),
            ),
            201,
            TransferView,
        )
        confirmed = ok(
            confirm_transfer.sync_detailed(created.id, client=admin, body=ConfirmWithOtp(otp=next_code(admin_totp))),
            200,
            TransferView,
        )
        expect_equal(confirmed.status, TransferStatus.PENDING_APPROVAL, "status", confirmed)
        approval = approval_of(confirmed)
        expect_equal(approval.required, 1, "approval.required", confirmed)
        expect_equal(approval.given, 0, "approval.given", confirmed)
        return confirmed

    waiting = step("administrator's confirmed transfer waits (pending_approval)", admin_transfer_waits)

    step(
        "nobody approves their own transfer (own_transfer)",
        lambda: refused(
            reject_transfer.sync_detailed(waiting.id, client=admin, body=RejectTransferRequest(reason="mine")),
            403,
            "own_transfer",
        ),
    )

    def approver_finds_it() -> AuthenticatedClient:
        body = sign_in(approver_login, approver_password)
        api = signed_in(body.access_token)
        found = ok(list_transfers.sync_detailed(client=api, awaiting_my_approval=True), 200, TransferList)
        expect(any(t.id == waiting.id for t in found.items), "the transfer is not awaiting the approver", found)
        return api

    approver = step("the approver signs in and finds it awaiting them", approver_finds_it)

    def approver_approves() -> None:
        approved = ok(
            approve_transfer.sync_detailed(
                waiting.id, client=approver, body=ConfirmWithOtp(otp=next_code(approver_totp))
            ),
            200,
            TransferView,
        )
        expect_equal(approved.status, TransferStatus.CONFIRMED, "status", approved)
        decisions = approval_of(approved).decisions
        expect(len(decisions) > 0, "no decision recorded", approved)
        expect_equal(decisions[0].person_id, approver_id, "decision.person_id", approved)
        expect_equal(decisions[0].decision, Decision.APPROVED, "decision", approved)

    step("the approver approves with their own code: confirmed", approver_approves)


def main() -> int:
    global failed
    try:
        story()
    except Aborted:
        pass
    except Exception:
        failed += 1
        print("FAIL     " + traceback.format_exc().rstrip().replace("\n", "\n     "))
    print()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
