/**
 * Small helpers shared by the classification functions: caller identity for the audit record and the JSON error
 * shape of the API.
 */
import type { AuditCaller } from '../audit/record';
import type { ApiError } from './classify-request';

export interface HeaderReader {
  get(name: string): string | null;
}

/** Caller identity from request headers; values are trimmed and capped so a header cannot bloat the record. */
export function callerFrom(headers: HeaderReader, invocationId: string): AuditCaller {
  const cap = (value: string | null | undefined): string | null => {
    const trimmed = value?.trim();
    return trimmed === undefined || trimmed === '' ? null : trimmed.slice(0, 128);
  };
  return {
    callerId: cap(headers.get('x-caller-id')),
    clientAddress: cap(headers.get('x-forwarded-for')?.split(',')[0]),
    invocationId,
  };
}

export function apiError(code: ApiError['error']['code'], message: string, field?: string): ApiError {
  return { error: { code, message, ...(field === undefined ? {} : { field }) } };
}
