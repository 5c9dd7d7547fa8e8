/**
 * PostgreSQL protocol 3.0 messages as readonly plain objects, named exactly as in the docs:
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

export const PROTOCOL_3_0 = 196608; // 3 << 16
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** Frontend (client → server) type bytes. */
export const FRONTEND = {
  Bind: 0x42, // B
  Close: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Describe: 0x44, // D
  Execute: 0x45, // E
  Flush: 0x48, // H
  FunctionCall: 0x46, // F
  Parse: 0x50, // P
  PasswordMessage: 0x70, // p (also SASLInitialResponse, SASLResponse, GSSResponse)
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
} as const;

/** Backend (server → client) type bytes. */
export const BACKEND = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  CommandComplete: 0x43, // C
  CopyBothResponse: 0x57, // W
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  DataRow: 0x44, // D
  EmptyQueryResponse: 0x49, // I
  ErrorResponse: 0x45, // E
  FunctionCallResponse: 0x56, // V
  NegotiateProtocolVersion: 0x76, // v
  NoData: 0x6e, // n
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  ParameterDescription: 0x74, // t
  ParameterStatus: 0x53, // S
  ParseComplete: 0x31, // 1
  PortalSuspended: 0x73, // s
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
} as const;

/** Authentication request codes carried by `AuthenticationXXX` messages. */
export const AUTH = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

export type StartupPhaseMessage =
  | {
      readonly type: 'StartupMessage';
      readonly protocolVersion: number;
      readonly parameters: Readonly<Record<string, string>>;
    }
  | { readonly type: 'SSLRequest' }
  | { readonly type: 'GSSENCRequest' }
  | { readonly type: 'CancelRequest'; readonly processId: number; readonly secretKey: Uint8Array };

export type FrontendMessage =
  | { readonly type: 'Query'; readonly sql: string }
  | {
      readonly type: 'Parse';
      readonly name: string;
      readonly sql: string;
      readonly paramTypes: readonly number[];
    }
  | {
      readonly type: 'Bind';
      readonly portal: string;
      readonly statement: string;
      readonly paramFormats: readonly number[];
      readonly params: readonly (Uint8Array | null)[];
      readonly resultFormats: readonly number[];
    }
  | { readonly type: 'Describe'; readonly target: 'S' | 'P'; readonly name: string }
  | { readonly type: 'Execute'; readonly portal: string; readonly maxRows: number }
  | { readonly type: 'Close'; readonly target: 'S' | 'P'; readonly name: string }
  | { readonly type: 'Sync' }
  | { readonly type: 'Flush' }
  | { readonly type: 'Terminate' }
  | { readonly type: 'CopyData'; readonly data: Uint8Array }
  | { readonly type: 'CopyDone' }
  | { readonly type: 'CopyFail'; readonly message: string }
  | { readonly type: 'PasswordMessage'; readonly payload: Uint8Array }
  | { readonly type: 'FunctionCall'; readonly payload: Uint8Array };

export type FrontendMessageType = FrontendMessage['type'];

/** Error and notice fields keyed by their one-letter field code (S, V, C, M, D, H, P, ...). */
export type NoticeFields = Readonly<Record<string, string>>;

export interface FieldDescription {
  readonly name: string;
  readonly tableOid: number;
  readonly columnAttr: number;
  readonly typeOid: number;
  readonly typeSize: number;
  readonly typeModifier: number;
  readonly format: number;
}

export type BackendMessage =
  | { readonly type: 'Authentication'; readonly code: number; readonly data: Uint8Array }
  | { readonly type: 'ParameterStatus'; readonly name: string; readonly value: string }
  | { readonly type: 'BackendKeyData'; readonly processId: number; readonly secretKey: Uint8Array }
  | { readonly type: 'ReadyForQuery'; readonly status: 'I' | 'T' | 'E' }
  | { readonly type: 'CommandComplete'; readonly tag: string }
  | { readonly type: 'ErrorResponse'; readonly fields: NoticeFields }
  | { readonly type: 'NoticeResponse'; readonly fields: NoticeFields }
  | { readonly type: 'RowDescription'; readonly fields: readonly FieldDescription[] }
  | { readonly type: 'DataRow'; readonly values: readonly (Uint8Array | null)[] }
  | { readonly type: 'ParameterDescription'; readonly typeOids: readonly number[] }
  | {
      readonly type: 'NegotiateProtocolVersion';
      readonly minorVersion: number;
      readonly options: readonly string[];
    }
  | { readonly type: 'Other'; readonly code: number; readonly payload: Uint8Array };
