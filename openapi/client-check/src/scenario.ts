// The seed story of webfb, played as a front-end would, through a client whose types are
// generated from openapi/openapi.json (`npm run generate`). A field the spec does not have
// breaks `tsc --noEmit`; a server that does not behave as the spec says fails a step here.
//
// Env: WEBFB_URL (e.g. http://127.0.0.1:18980), WEBFB_OPERATOR_LOGIN_ID, WEBFB_OPERATOR_PASSWORD,
// and a second operator's WEBFB_CHECKER_LOGIN_ID, WEBFB_CHECKER_PASSWORD (dual control).

import { randomBytes, randomInt, randomUUID } from "node:crypto";
import process from "node:process";

import createClient, { type Client } from "openapi-fetch";
import * as OTPAuth from "otpauth";

import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];
type Api = Client<paths>;

/**
 * What every error body of the API has (RFC 9457 problem details with a stable `code`).
 * The exact type comes from each operation's responses in the spec, so `code` below is
 * checked against the codes that operation declares.
 */
interface ProblemLike {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
}

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`environment variable ${name} is not set`);
  }
  return value;
}

const baseUrl = env("WEBFB_URL").replace(/\/+$/, "");
const operatorLoginId = env("WEBFB_OPERATOR_LOGIN_ID");
const operatorPassword = env("WEBFB_OPERATOR_PASSWORD");
const checkerLoginId = env("WEBFB_CHECKER_LOGIN_ID");
const checkerPassword = env("WEBFB_CHECKER_PASSWORD");

/** An anonymous client, and one that signs each request with a session's access token. */
const anonymous: Api = createClient<paths>({ baseUrl });
function signedIn(accessToken: string): Api {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${accessToken}` } });
}

// ---------------------------------------------------------------------------------------
// Steps and their bookkeeping.

class StepFailure extends Error {
  constructor(
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

let passed = 0;
let failed = 0;
let stepNo = 0;

async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  stepNo += 1;
  const n = String(stepNo).padStart(2, " ");
  try {
    const value = await run();
    passed += 1;
    console.log(`ok  ${n}  ${name}`);
    return value;
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${n}  ${name}`);
    if (err instanceof StepFailure) {
      console.log(`     ${err.message}`);
      if (err.body !== undefined) {
        console.log(`     body: ${JSON.stringify(err.body, null, 2).replace(/\n/g, "\n     ")}`);
      }
    } else {
      console.log(`     ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    throw new Aborted();
  }
}

/** Thrown after a failed step: the story cannot go on without its result. */
class Aborted extends Error {}

function expect(condition: boolean, message: string, body?: unknown): asserts condition {
  if (!condition) throw new StepFailure(message, body);
}

function expectEqual<T>(actual: T, expected: T, what: string, body?: unknown): void {
  expect(
    actual === expected,
    `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
    body,
  );
}

/** The success body of a call that must answer `status`; its problem body otherwise. */
function ok<D>(
  result: { data?: D; error?: unknown; response: Response },
  status: number,
): NonNullable<D> {
  const { data, error, response } = result;
  expect(
    response.status === status && data !== undefined && data !== null,
    `expected HTTP ${status}, got ${response.status}`,
    error ?? data,
  );
  return data;
}

/**
 * The problem body of a call that must fail with `status` and `code`: `code` must be one the
 * spec declares for the operation (the typed `error` of openapi-fetch).
 */
function refused<E extends ProblemLike>(
  result: { data?: unknown; error?: E; response: Response },
  status: number,
  code: NoInfer<E["code"]>,
): E {
  const { data, error, response } = result;
  expect(
    error !== undefined,
    `expected HTTP ${status} ${code}, got ${response.status}`,
    data,
  );
  expectEqual(response.status, status, "HTTP status", error);
  expectEqual(error.status, status, "problem status", error);
  expectEqual(error.code, code, "problem code", error);
  expectEqual(
    response.headers.get("content-type")?.split(";")[0],
    "application/problem+json",
    "content type",
    error,
  );
  return error;
}

// ---------------------------------------------------------------------------------------
// Helpers a front-end would have.

const suffix = randomBytes(4).toString("hex");

function digits(n: number): string {
  let s = "";
  for (let i = 0; i < n; i += 1) s += String(randomInt(10));
  return s;
}

/** A password of the policy's shape: ≥ 10 characters, letters and digits, not the login ID. */
function password(tag: string): string {
  return `${tag}-${randomBytes(6).toString("base64url")}-7q${digits(4)}`;
}

/** Tomorrow's date in Japan (UTC+9, no daylight saving), as YYYY-MM-DD. */
function tomorrowInJapan(): string {
  const japanNow = new Date(Date.now() + 9 * 3_600_000);
  japanNow.setUTCDate(japanNow.getUTCDate() + 1);
  return japanNow.toISOString().slice(0, 10);
}

/** The authenticator app: reads the `otpauth://` URI the server issued. */
function authenticator(uri: string): OTPAuth.TOTP {
  const otp = OTPAuth.URI.parse(uri);
  if (!(otp instanceof OTPAuth.TOTP)) {
    throw new StepFailure(`the issued URI is not a TOTP URI: ${uri}`);
  }
  return otp;
}

type IssuedToken = Schemas["IssuedTokenView"];

/** Sign-in answers a session (200) or, where a code is asked, a challenge (202). */
function sessionOf(
  body: Schemas["LoginResponse"] | Schemas["SignInChallenge"],
): Schemas["LoginResponse"] {
  expect("access_token" in body, "a session, not a code step", body);
  return body;
}

async function issueToken(api: Api): Promise<IssuedToken> {
  const token = ok(await api.POST("/api/v1/soft-tokens"), 201);
  expect(/^[A-Z]{4}[0-9]{8}$/.test(token.token_id), `token_id ${token.token_id}`, token);
  expect(token.otpauth_uri.startsWith("otpauth://totp/"), "otpauth_uri", token);
  expect(token.qr_png_base64.length > 0, "qr_png_base64 is empty", token);
  return token;
}

/** A bank operator's session. */
async function bankSignIn(login_id: string, password: string): Promise<Api> {
  const body = ok(await anonymous.POST("/api/v1/bank/auth/login", { body: { login_id, password } }), 200);
  return signedIn(body.access_token);
}

/**
 * A destructive bank procedure under dual control: `requester` asks for it with the reason
 * and the evidence checked; it is carried out only when `checker`, another operator, approves.
 */
async function dualControl(
  requester: Api,
  checker: Api,
  kind: Schemas["ProcedureKind"],
  target_id: string,
  reason: string,
): Promise<Schemas["ProcedureView"]> {
  const asked = ok(
    await requester.POST("/api/v1/bank/procedures", {
      body: {
        kind,
        target_id,
        reason,
        evidence: "caller answered the registered security questions",
      } satisfies Schemas["ProcedureRequestBody"],
    }),
    201,
  );
  expectEqual(asked.status, "pending", "procedure status", asked);
  refused(
    await requester.POST("/api/v1/bank/procedures/{procedure_id}/approve", {
      params: { path: { procedure_id: asked.id } },
      body: {},
    }),
    403,
    "second_operator_required",
  );
  const done = ok(
    await checker.POST("/api/v1/bank/procedures/{procedure_id}/approve", {
      params: { path: { procedure_id: asked.id } },
      body: { note: "checked" },
    }),
    200,
  );
  expectEqual(done.status, "carried_out", "procedure status", done);
  return done;
}

function payee(): Schemas["PayeeRequest"] {
  return {
    bank_code: "0001",
    branch_code: "123",
    account_type: "ordinary",
    account_number: "7654321",
    name: "ｶ)ﾔﾏﾀﾞｼﾖｳｼﾞ",
  };
}

// ---------------------------------------------------------------------------------------
// The story.

async function story(): Promise<void> {
  const adminLogin = `ci.admin.${suffix}`;
  const userLogin = `ci.user.${suffix}`;
  const debitAccount = `001-${digits(7)}`;
  const admin = {
    password: password("Admin"),
    approval: password("Approve"),
    transfer: password("AdminXfer"),
  };
  const user = { password: password("User"), transfer: password("UserXfer") };

  // The bank.
  const operator = await step("bank operator signs in", async () => {
    const body = ok(
      await anonymous.POST("/api/v1/bank/auth/login", {
        body: {
          login_id: operatorLoginId,
          password: operatorPassword,
        } satisfies Schemas["LoginRequest"],
      }),
      200,
    );
    expectEqual(body.token_type, "Bearer", "token_type", body);
    expectEqual(body.operator.login_id, operatorLoginId, "operator.login_id", body);
    return signedIn(body.access_token);
  });

  await step("bank creates a company with its administrator", async () => {
    const company = ok(
      await operator.POST("/api/v1/bank/companies", {
        body: {
          name: `CI商事株式会社 ${suffix}`,
          transfer_limit: 5_000_000,
          accounts: [debitAccount],
          admin: {
            login_id: adminLogin,
            name: "CI 管理者",
            password: admin.password,
            approval_password: admin.approval,
            transfer_password: admin.transfer,
          },
        } satisfies Schemas["CreateCompanyRequest"],
      }),
      201,
    );
    expectEqual(company.admin.login_id, adminLogin, "admin.login_id", company);
    expectEqual(company.otp_status, "inactive", "otp_status", company);
    expectEqual(company.transfer_limit, 5_000_000, "transfer_limit", company);
    expect(company.accounts.includes(debitAccount), "accounts", company);
  });

  // The administrator.
  const adminApi = await step("administrator signs in", async () => {
    const body = sessionOf(
      ok(
        await anonymous.POST("/api/v1/auth/login", {
          body: { login_id: adminLogin, password: admin.password } satisfies Schemas["LoginRequest"],
        }),
        200,
      ),
    );
    expectEqual(body.user.role, "admin", "user.role", body);
    return signedIn(body.access_token);
  });

  await step("administrator sets per_user mode", async () => {
    const settings = ok(
      await adminApi.PUT("/api/v1/otp/mode", {
        body: {
          mode: "per_user",
          approval_password: admin.approval,
        } satisfies Schemas["SetModeRequest"],
      }),
      200,
    );
    expectEqual(settings.mode, "per_user", "mode", settings);
    expectEqual(settings.status, "inactive", "status", settings);
  });

  const adminToken = await step("administrator issues a token", () => issueToken(adminApi));

  await step("administrator registers own token with its code: OTP active", async () => {
    const totp = authenticator(adminToken.otpauth_uri);
    const settings = ok(
      await adminApi.PUT("/api/v1/otp/admin-token", {
        body: {
          token_id: adminToken.token_id,
          otp: totp.generate(),
          approval_password: admin.approval,
        } satisfies Schemas["RegisterTokenRequest"],
      }),
      200,
    );
    expectEqual(settings.status, "active", "status", settings);
    expectEqual(settings.admin_token?.status, "active", "admin_token.status", settings);
  });

  const userId = await step("administrator creates a user who may transfer", async () => {
    const created = ok(
      await adminApi.POST("/api/v1/users", {
        body: {
          login_id: userLogin,
          name: "CI 利用者",
          password: user.password,
          transfer_password: user.transfer,
          can_transfer: true,
        } satisfies Schemas["CreateUserRequest"],
      }),
      201,
    );
    expectEqual(created.role, "user", "role", created);
    expectEqual(created.can_transfer, true, "can_transfer", created);
    return created.id;
  });

  const userToken = await step("administrator issues the user's token", () => issueToken(adminApi));
  const userTotp = authenticator(userToken.otpauth_uri);

  await step("administrator registers the user's token with its code", async () => {
    const settings = ok(
      await adminApi.PUT("/api/v1/otp/users/{user_id}/token", {
        params: { path: { user_id: userId } },
        body: {
          token_id: userToken.token_id,
          otp: userTotp.generate(),
          approval_password: admin.approval,
        } satisfies Schemas["RegisterTokenRequest"],
      }),
      200,
    );
    const row = settings.users.find((u) => u.user_id === userId);
    expect(row !== undefined, "the user is not on the OTP screen", settings);
    expectEqual(row.token?.status, "active", "user's token status", settings);
    expectEqual(row.ready, true, "user's ready", settings);
    expect(
      !settings.users_without_token.some((u) => u.user_id === userId),
      "the user is still listed without a token",
      settings,
    );
  });

  // The user.
  const userApi = await step("user signs in", async () => {
    const body = sessionOf(
      ok(
        await anonymous.POST("/api/v1/auth/login", {
          body: { login_id: userLogin, password: user.password } satisfies Schemas["LoginRequest"],
        }),
        200,
      ),
    );
    expectEqual(body.user.id, userId, "user.id", body);
    return signedIn(body.access_token);
  });

  await step("user's next transfer needs a code (GET /me)", async () => {
    const me = ok(await userApi.GET("/api/v1/me"), 200);
    expectEqual(me.transfer_confirmation, "otp", "transfer_confirmation", me);
    expectEqual(me.token?.status, "active", "token.status", me);
  });

  const createTransfer = async (): Promise<Schemas["TransferView"]> => {
    const transfer = ok(
      await userApi.POST("/api/v1/transfers", {
        params: { header: { "Idempotency-Key": randomUUID() } },
        body: {
          debit_account: debitAccount,
          payee: payee(),
          amount: 12_345,
          execution_date: tomorrowInJapan(),
          memo: "client-check",
        } satisfies Schemas["CreateTransferRequest"],
      }),
      201,
    );
    expectEqual(transfer.status, "pending_confirmation", "status", transfer);
    expectEqual(transfer.amount, 12_345, "amount", transfer);
    expectEqual(transfer.confirmation.method, "otp", "confirmation.method", transfer);
    expectEqual(transfer.confirmation.ready, true, "confirmation.ready", transfer);
    expectEqual(transfer.created_by, userId, "created_by", transfer);
    return transfer;
  };

  const first = await step("user creates a transfer: it waits for a code", createTransfer);

  await step("the transfer password is refused once OTP is active (otp_required)", async () => {
    refused(
      await userApi.POST("/api/v1/transfers/{transfer_id}/confirm", {
        params: { path: { transfer_id: first.id } },
        body: { transfer_password: user.transfer } satisfies Schemas["ConfirmWithTransferPassword"],
      }),
      422,
      "otp_required",
    );
  });

  // The registration spent the current time step; the server accepts ±1 step, so the
  // authenticator's next code is the first one that is both valid and unused.
  const code = userTotp.generate({ timestamp: Date.now() + 30_000 });

  await step("user confirms the transfer with a code", async () => {
    const confirmed = ok(
      await userApi.POST("/api/v1/transfers/{transfer_id}/confirm", {
        params: { path: { transfer_id: first.id } },
        body: { otp: code } satisfies Schemas["ConfirmWithOtp"],
      }),
      200,
    );
    expectEqual(confirmed.status, "confirmed", "status", confirmed);
    expectEqual(confirmed.confirmation.method, "otp", "confirmation.method", confirmed);
    expect(typeof confirmed.confirmed_at === "string", "confirmed_at is not set", confirmed);
  });

  const second = await step("user creates a second transfer", createTransfer);

  await step("the same code is refused for it (otp_replayed)", async () => {
    const problem = refused(
      await userApi.POST("/api/v1/transfers/{transfer_id}/confirm", {
        params: { path: { transfer_id: second.id } },
        body: { otp: code } satisfies Schemas["ConfirmWithOtp"],
      }),
      409,
      "otp_replayed",
    );
    expect(problem.type.endsWith("otp_replayed"), `problem type ${problem.type}`, problem);
  });

  await step("the second transfer is still pending", async () => {
    const transfer = ok(
      await userApi.GET("/api/v1/transfers/{transfer_id}", {
        params: { path: { transfer_id: second.id } },
      }),
      200,
    );
    expectEqual(transfer.status, "pending_confirmation", "status", transfer);
  });

  // Four eyes (承認): the administrator's transfer waits for an approver's own code.
  const approverLogin = `ci.approver.${suffix}`;
  const approverSecrets = { password: password("Approver"), transfer: password("ApprXfer") };
  const approverId = await step("administrator adds an approver (approver permission)", async () => {
    const created = ok(
      await adminApi.POST("/api/v1/users", {
        body: {
          login_id: approverLogin,
          name: "CI 承認者",
          password: approverSecrets.password,
          transfer_password: approverSecrets.transfer,
          can_transfer: false,
          can_approve: true,
        } satisfies Schemas["CreateUserRequest"],
      }),
      201,
    );
    expectEqual(created.can_approve, true, "can_approve", created);
    return created.id;
  });

  const approverTotp = await step("the approver's own token is registered", async () => {
    const token = await issueToken(adminApi);
    const totp = authenticator(token.otpauth_uri);
    ok(
      await adminApi.PUT("/api/v1/otp/users/{user_id}/token", {
        params: { path: { user_id: approverId } },
        body: {
          token_id: token.token_id,
          otp: totp.generate(),
          approval_password: admin.approval,
        },
      }),
      200,
    );
    return totp;
  });

  await step("administrator sets the approval policy: every transfer, one approval", async () => {
    const policy = ok(
      await adminApi.PUT("/api/v1/approval-policy", {
        body: {
          enabled: true,
          min_amount: 0,
          approvals_required: 1,
          approval_password: admin.approval,
        } satisfies Schemas["SetApprovalPolicyRequest"],
      }),
      200,
    );
    expectEqual(policy.enabled, true, "enabled", policy);
    expectEqual(policy.approvals_required, 1, "approvals_required", policy);
  });

  const waiting = await step("administrator's confirmed transfer waits (pending_approval)", async () => {
    const created = ok(
      await adminApi.POST("/api/v1/transfers", {
        params: { header: { "Idempotency-Key": randomUUID() } },
        body: {
          debit_account: debitAccount,
          payee: payee(),
          amount: 2_000_000,
          execution_date: tomorrowInJapan(),
        },
      }),
      201,
    );
    const adminTotp = authenticator(adminToken.otpauth_uri);
    const confirmed = ok(
      await adminApi.POST("/api/v1/transfers/{transfer_id}/confirm", {
        params: { path: { transfer_id: created.id } },
        body: { otp: adminTotp.generate({ timestamp: Date.now() + 30_000 }) },
      }),
      200,
    );
    expectEqual(confirmed.status, "pending_approval", "status", confirmed);
    expectEqual(confirmed.approval?.required, 1, "approval.required", confirmed);
    expectEqual(confirmed.approval?.given, 0, "approval.given", confirmed);
    return confirmed;
  });

  await step("nobody approves their own transfer (own_transfer)", async () => {
    refused(
      await adminApi.POST("/api/v1/transfers/{transfer_id}/reject", {
        params: { path: { transfer_id: waiting.id } },
        body: { reason: "mine" },
      }),
      403,
      "own_transfer",
    );
  });

  const approverApi = await step("the approver signs in and finds it awaiting them", async () => {
    const body = sessionOf(
      ok(
        await anonymous.POST("/api/v1/auth/login", {
          body: { login_id: approverLogin, password: approverSecrets.password },
        }),
        200,
      ),
    );
    const api = signedIn(body.access_token);
    const list = ok(
      await api.GET("/api/v1/transfers", { params: { query: { awaiting_my_approval: true } } }),
      200,
    );
    expect(
      list.items.some((t) => t.id === waiting.id),
      "the transfer is not awaiting the approver",
      list,
    );
    return api;
  });

  await step("the approver approves with their own code: confirmed", async () => {
    const approved = ok(
      await approverApi.POST("/api/v1/transfers/{transfer_id}/approve", {
        params: { path: { transfer_id: waiting.id } },
        body: { otp: approverTotp.generate({ timestamp: Date.now() + 30_000 }) },
      }),
      200,
    );
    expectEqual(approved.status, "confirmed", "status", approved);
    const decision = approved.approval?.decisions[0];
    expectEqual(decision?.person_id, approverId, "decision.person_id", approved);
    expectEqual(decision?.decision, "approved", "decision", approved);
  });
}

/** Personal internet banking (seeds 000, 001, 003, 004): the login page, before sign-in. */
async function personalStory(): Promise<void> {
  const contractId = `ci.customer.${suffix}`;
  const debitAccount = `002-${digits(7)}`;
  const customer = { password: password("Customer"), funds: password("Funds") };
  const proof = { contract_id: contractId, password: customer.password };

  const operator = await step("bank operator signs in again", () =>
    bankSignIn(operatorLoginId, operatorPassword),
  );

  const personId = await step("bank opens a personal contract", async () => {
    const contract = ok(
      await operator.POST("/api/v1/bank/personal-contracts", {
        body: {
          contract_id: contractId,
          name: "CI 花子",
          transfer_limit: 1_000_000,
          accounts: [debitAccount],
          password: customer.password,
          transfer_password: customer.funds,
        } satisfies Schemas["OpenPersonalContractRequest"],
      }),
      201,
    );
    expectEqual(contract.contract_id, contractId, "contract_id", contract);
    expectEqual(contract.otp_status, "inactive", "otp_status", contract);
    return contract.customer.id;
  });

  const token = await step("customer asks for a token from the login page", async () => {
    const issued = ok(
      await anonymous.POST("/api/v1/self-service/soft-tokens", {
        body: proof satisfies Schemas["ContractProof"],
      }),
      201,
    );
    expect(issued.otpauth_uri.startsWith("otpauth://totp/"), "otpauth_uri", issued);
    return issued;
  });
  const totp = authenticator(token.otpauth_uri);

  await step("customer registers it with a code (利用登録)", async () => {
    const done = ok(
      await anonymous.POST("/api/v1/self-service/otp/registration", {
        body: {
          ...proof,
          token_id: token.token_id,
          otp: totp.generate(),
        } satisfies Schemas["SelfRegisterRequest"],
      }),
      200,
    );
    expectEqual(done.otp_status, "active", "otp_status", done);
    expectEqual(done.codes.at_sign_in, true, "codes.at_sign_in", done);
  });

  const challenge = await step("sign-in with the password asks for a code (202)", async () => {
    const result = await anonymous.POST("/api/v1/auth/login", {
      body: { login_id: contractId, password: customer.password },
    });
    expectEqual(result.response.status, 202, "HTTP status", result.error ?? result.data);
    const data = result.data;
    expect(data !== undefined && "challenge" in data, "a challenge", data);
    return data.challenge;
  });

  const customerApi = await step("the code step opens the session", async () => {
    const body = ok(
      await anonymous.POST("/api/v1/auth/login/otp", {
        body: {
          challenge,
          otp: totp.generate({ timestamp: Date.now() + 30_000 }),
        } satisfies Schemas["LoginCodeRequest"],
      }),
      200,
    );
    expectEqual(body.user.role, "customer", "user.role", body);
    return signedIn(body.access_token);
  });

  const transfer = await step("the customer's transfer waits for a code", async () => {
    const me = ok(await customerApi.GET("/api/v1/me"), 200);
    expectEqual(me.company.kind, "personal", "company.kind", me);
    expectEqual(me.transfer_confirmation, "otp", "transfer_confirmation", me);
    const created = ok(
      await customerApi.POST("/api/v1/transfers", {
        params: { header: { "Idempotency-Key": randomUUID() } },
        body: {
          debit_account: debitAccount,
          payee: payee(),
          amount: 5_000,
          execution_date: tomorrowInJapan(),
        },
      }),
      201,
    );
    expectEqual(created.confirmation.method, "otp", "confirmation.method", created);
    return created;
  });

  const checker = await step("a second bank operator signs in (dual control)", () =>
    bankSignIn(checkerLoginId, checkerPassword),
  );

  await step("the phone is lost: one operator asks, a second suspends the token", async () => {
    await dualControl(operator, checker, "token_suspend", personId, "phone lost; caller identified");
    const person = ok(
      await operator.GET("/api/v1/bank/people/{person_id}", {
        params: { path: { person_id: personId } },
      }),
      200,
    );
    expectEqual(person.token?.status, "suspended", "token.status", person);
  });

  await step("the lost phone's session ends; its codes are refused (token_suspended)", async () => {
    refused(await customerApi.GET("/api/v1/me"), 401, "session_expired");
    const started = await anonymous.POST("/api/v1/auth/login", {
      body: { login_id: contractId, password: customer.password },
    });
    expectEqual(started.response.status, 202, "HTTP status", started.error ?? started.data);
    const data = started.data;
    expect(data !== undefined && "challenge" in data, "a challenge", data);
    refused(
      await anonymous.POST("/api/v1/auth/login/otp", {
        body: { challenge: data.challenge, otp: totp.generate() },
      }),
      423,
      "token_suspended",
    );
  });

  const fresh = await step("the bank reissues; the customer registers a new token", async () => {
    await dualControl(operator, checker, "token_reissue", personId, "new phone");
    const issued = ok(await anonymous.POST("/api/v1/self-service/soft-tokens", { body: proof }), 201);
    const app = authenticator(issued.otpauth_uri);
    const done = ok(
      await anonymous.POST("/api/v1/self-service/otp/registration", {
        body: { ...proof, token_id: issued.token_id, otp: app.generate() },
      }),
      200,
    );
    expectEqual(done.token?.status, "active", "token.status", done);
    return app;
  });

  await step("customer stops one-time passwords (利用停止)", async () => {
    const done = ok(
      await anonymous.POST("/api/v1/self-service/otp/stop", {
        body: {
          ...proof,
          otp: fresh.generate({ timestamp: Date.now() + 30_000 }),
        } satisfies Schemas["SelfStopRequest"],
      }),
      200,
    );
    expectEqual(done.otp_status, "inactive", "otp_status", done);
  });

  await step("sign-in without a code; the funds-transfer password confirms", async () => {
    const body = sessionOf(
      ok(
        await anonymous.POST("/api/v1/auth/login", {
          body: { login_id: contractId, password: customer.password },
        }),
        200,
      ),
    );
    const api = signedIn(body.access_token);
    const confirmed = ok(
      await api.POST("/api/v1/transfers/{transfer_id}/confirm", {
        params: { path: { transfer_id: transfer.id } },
        body: { transfer_password: customer.funds },
      }),
      200,
    );
    expectEqual(confirmed.confirmation.method, "transfer_password", "confirmation.method", confirmed);
  });
}

try {
  await story();
  await personalStory();
} catch (err) {
  if (!(err instanceof Aborted)) {
    failed += 1;
    console.log(`FAIL     ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}
console.log("");
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
