/**
 * Typed errors shared by every layer.
 *
 * - {@link ValidationError}: bad input at an edge (config, file, RPC, CLI). Nothing was changed.
 * - {@link ProtocolAbort}: the MPC protocol detected misbehaviour or lost a peer. The session
 *   must be abandoned; no output derived from it may be released.
 *   Subclasses name the check that failed ({@link MacCheckError}, {@link SacrificeError}).
 */

/** Bad input: says what, where, and what was expected. */
export class ValidationError extends Error {
  override readonly name: string = 'ValidationError';
  /** Dotted path of the offending field, e.g. `fixed_point.scale_bits`. */
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(field ? `${field}: ${message}` : message);
    this.field = field;
  }
}

/** The protocol cannot continue safely. Abort the session; never release its outputs. */
export class ProtocolAbort extends Error {
  override readonly name: string = 'ProtocolAbort';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A batched MAC check failed: some party tampered with a share of an opened value. */
export class MacCheckError extends ProtocolAbort {
  override readonly name: string = 'MacCheckError';
}

/** A triple sacrifice failed: the dealer (or a party) supplied an incorrect triple. */
export class SacrificeError extends ProtocolAbort {
  override readonly name: string = 'SacrificeError';
}

/** A commitment did not match its opening (coin toss, MAC-check commit-then-open). */
export class CommitmentError extends ProtocolAbort {
  override readonly name: string = 'CommitmentError';
}

/** The parties' requests for preprocessing material disagree (a desynchronised protocol). */
export class DesyncError extends ProtocolAbort {
  override readonly name: string = 'DesyncError';
}
