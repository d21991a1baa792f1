from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    VERDICT_ACCEPT: _ClassVar[Verdict]
    VERDICT_REJECT: _ClassVar[Verdict]
    VERDICT_APPROVE: _ClassVar[Verdict]

class ApprovalState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_STATE_UNSPECIFIED: _ClassVar[ApprovalState]
    APPROVAL_STATE_PENDING: _ClassVar[ApprovalState]
    APPROVAL_STATE_APPROVED: _ClassVar[ApprovalState]
    APPROVAL_STATE_DENIED: _ClassVar[ApprovalState]
VERDICT_UNSPECIFIED: Verdict
VERDICT_ACCEPT: Verdict
VERDICT_REJECT: Verdict
VERDICT_APPROVE: Verdict
APPROVAL_STATE_UNSPECIFIED: ApprovalState
APPROVAL_STATE_PENDING: ApprovalState
APPROVAL_STATE_APPROVED: ApprovalState
APPROVAL_STATE_DENIED: ApprovalState

class SubmitPlanRequest(_message.Message):
    __slots__ = ("plan", "spec", "agent")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    plan: str
    spec: str
    agent: str
    def __init__(self, plan: _Optional[str] = ..., spec: _Optional[str] = ..., agent: _Optional[str] = ...) -> None: ...

class Location(_message.Message):
    __slots__ = ("file", "line", "column")
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    file: str
    line: int
    column: int
    def __init__(self, file: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[int] = ...) -> None: ...

class Witness(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Counterexample(_message.Message):
    __slots__ = ("reason", "message", "rule", "rule_location", "step", "step_location", "witnesses", "path")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    RULE_LOCATION_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STEP_LOCATION_FIELD_NUMBER: _ClassVar[int]
    WITNESSES_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    reason: str
    message: str
    rule: str
    rule_location: Location
    step: str
    step_location: Location
    witnesses: _containers.RepeatedCompositeFieldContainer[Witness]
    path: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ..., rule: _Optional[str] = ..., rule_location: _Optional[_Union[Location, _Mapping]] = ..., step: _Optional[str] = ..., step_location: _Optional[_Union[Location, _Mapping]] = ..., witnesses: _Optional[_Iterable[_Union[Witness, _Mapping]]] = ..., path: _Optional[_Iterable[str]] = ...) -> None: ...

class SubmitPlanResponse(_message.Message):
    __slots__ = ("submission_id", "verdict", "counterexamples", "token", "token_id", "approval_id", "envelope_json", "audit_seq", "approval_reasons")
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    COUNTEREXAMPLES_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_JSON_FIELD_NUMBER: _ClassVar[int]
    AUDIT_SEQ_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REASONS_FIELD_NUMBER: _ClassVar[int]
    submission_id: str
    verdict: Verdict
    counterexamples: _containers.RepeatedCompositeFieldContainer[Counterexample]
    token: str
    token_id: str
    approval_id: str
    envelope_json: str
    audit_seq: int
    approval_reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, submission_id: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., counterexamples: _Optional[_Iterable[_Union[Counterexample, _Mapping]]] = ..., token: _Optional[str] = ..., token_id: _Optional[str] = ..., approval_id: _Optional[str] = ..., envelope_json: _Optional[str] = ..., audit_seq: _Optional[int] = ..., approval_reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class GetApprovalRequest(_message.Message):
    __slots__ = ("approval_id",)
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    def __init__(self, approval_id: _Optional[str] = ...) -> None: ...

class Approval(_message.Message):
    __slots__ = ("approval_id", "submission_id", "agent", "spec", "state", "plan", "reasons", "decided_by", "decision_reason", "token", "token_id", "created_at_ms", "decided_at_ms", "envelope_json", "call_token_id", "call_digest")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_JSON_FIELD_NUMBER: _ClassVar[int]
    CALL_TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_DIGEST_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    submission_id: str
    agent: str
    spec: str
    state: ApprovalState
    plan: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    decided_by: str
    decision_reason: str
    token: str
    token_id: str
    created_at_ms: int
    decided_at_ms: int
    envelope_json: str
    call_token_id: str
    call_digest: str
    def __init__(self, approval_id: _Optional[str] = ..., submission_id: _Optional[str] = ..., agent: _Optional[str] = ..., spec: _Optional[str] = ..., state: _Optional[_Union[ApprovalState, str]] = ..., plan: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ..., decided_by: _Optional[str] = ..., decision_reason: _Optional[str] = ..., token: _Optional[str] = ..., token_id: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., decided_at_ms: _Optional[int] = ..., envelope_json: _Optional[str] = ..., call_token_id: _Optional[str] = ..., call_digest: _Optional[str] = ...) -> None: ...

class CallApprovalRequest(_message.Message):
    __slots__ = ("token", "action", "call_digest", "reasons")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CALL_DIGEST_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    token: str
    action: str
    call_digest: str
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, token: _Optional[str] = ..., action: _Optional[str] = ..., call_digest: _Optional[str] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class DecideRequest(_message.Message):
    __slots__ = ("approval_id", "reason")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    reason: str
    def __init__(self, approval_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeRequest(_message.Message):
    __slots__ = ("token_id", "reason")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    reason: str
    def __init__(self, token_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokeResponse(_message.Message):
    __slots__ = ("token_id", "revoked_at_ms", "already_revoked", "audit_seq")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ALREADY_REVOKED_FIELD_NUMBER: _ClassVar[int]
    AUDIT_SEQ_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    revoked_at_ms: int
    already_revoked: bool
    audit_seq: int
    def __init__(self, token_id: _Optional[str] = ..., revoked_at_ms: _Optional[int] = ..., already_revoked: _Optional[bool] = ..., audit_seq: _Optional[int] = ...) -> None: ...

class ArgValue(_message.Message):
    __slots__ = ("text", "number", "flag", "list", "from_call")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    FROM_CALL_FIELD_NUMBER: _ClassVar[int]
    text: str
    number: str
    flag: bool
    list: ArgList
    from_call: str
    def __init__(self, text: _Optional[str] = ..., number: _Optional[str] = ..., flag: _Optional[bool] = ..., list: _Optional[_Union[ArgList, _Mapping]] = ..., from_call: _Optional[str] = ...) -> None: ...

class ArgList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ArgValue]
    def __init__(self, items: _Optional[_Iterable[_Union[ArgValue, _Mapping]]] = ...) -> None: ...

class FileAction(_message.Message):
    __slots__ = ("op", "path")
    class Op(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OP_UNSPECIFIED: _ClassVar[FileAction.Op]
        OP_READ: _ClassVar[FileAction.Op]
        OP_WRITE: _ClassVar[FileAction.Op]
        OP_DELETE: _ClassVar[FileAction.Op]
    OP_UNSPECIFIED: FileAction.Op
    OP_READ: FileAction.Op
    OP_WRITE: FileAction.Op
    OP_DELETE: FileAction.Op
    OP_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    op: FileAction.Op
    path: str
    def __init__(self, op: _Optional[_Union[FileAction.Op, str]] = ..., path: _Optional[str] = ...) -> None: ...

class ExecAction(_message.Message):
    __slots__ = ("path", "argv")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    path: str
    argv: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, path: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ...) -> None: ...

class ConnectAction(_message.Message):
    __slots__ = ("host", "ip", "port")
    HOST_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    host: str
    ip: str
    port: int
    def __init__(self, host: _Optional[str] = ..., ip: _Optional[str] = ..., port: _Optional[int] = ...) -> None: ...

class ListenAction(_message.Message):
    __slots__ = ("port",)
    PORT_FIELD_NUMBER: _ClassVar[int]
    port: int
    def __init__(self, port: _Optional[int] = ...) -> None: ...

class CallAction(_message.Message):
    __slots__ = ("name", "args")
    class ArgsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ArgValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ArgValue, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    args: _containers.MessageMap[str, ArgValue]
    def __init__(self, name: _Optional[str] = ..., args: _Optional[_Mapping[str, ArgValue]] = ...) -> None: ...

class Action(_message.Message):
    __slots__ = ("file", "exec", "connect", "listen", "call")
    FILE_FIELD_NUMBER: _ClassVar[int]
    EXEC_FIELD_NUMBER: _ClassVar[int]
    CONNECT_FIELD_NUMBER: _ClassVar[int]
    LISTEN_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    file: FileAction
    exec: ExecAction
    connect: ConnectAction
    listen: ListenAction
    call: CallAction
    def __init__(self, file: _Optional[_Union[FileAction, _Mapping]] = ..., exec: _Optional[_Union[ExecAction, _Mapping]] = ..., connect: _Optional[_Union[ConnectAction, _Mapping]] = ..., listen: _Optional[_Union[ListenAction, _Mapping]] = ..., call: _Optional[_Union[CallAction, _Mapping]] = ...) -> None: ...

class CheckActionRequest(_message.Message):
    __slots__ = ("token", "action")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    token: str
    action: Action
    def __init__(self, token: _Optional[str] = ..., action: _Optional[_Union[Action, _Mapping]] = ...) -> None: ...

class CheckResultRequest(_message.Message):
    __slots__ = ("token", "tool", "result_json")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    token: str
    tool: str
    result_json: str
    def __init__(self, token: _Optional[str] = ..., tool: _Optional[str] = ..., result_json: _Optional[str] = ...) -> None: ...

class CheckActionResponse(_message.Message):
    __slots__ = ("allowed", "reason", "token_id")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    reason: str
    token_id: str
    def __init__(self, allowed: _Optional[bool] = ..., reason: _Optional[str] = ..., token_id: _Optional[str] = ...) -> None: ...

class EnforcementEvent(_message.Message):
    __slots__ = ("token_id", "run_id", "layer", "kind", "detail_json")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DETAIL_JSON_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    run_id: str
    layer: str
    kind: str
    detail_json: str
    def __init__(self, token_id: _Optional[str] = ..., run_id: _Optional[str] = ..., layer: _Optional[str] = ..., kind: _Optional[str] = ..., detail_json: _Optional[str] = ...) -> None: ...

class RecordEnforcementResponse(_message.Message):
    __slots__ = ("audit_seq",)
    AUDIT_SEQ_FIELD_NUMBER: _ClassVar[int]
    audit_seq: int
    def __init__(self, audit_seq: _Optional[int] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("kinds", "after_seq", "replay")
    KINDS_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    REPLAY_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[str]
    after_seq: int
    replay: bool
    def __init__(self, kinds: _Optional[_Iterable[str]] = ..., after_seq: _Optional[int] = ..., replay: _Optional[bool] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("seq", "time_ms", "kind", "body_json", "hash", "prev_hash")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time_ms: int
    kind: str
    body_json: str
    hash: str
    prev_hash: str
    def __init__(self, seq: _Optional[int] = ..., time_ms: _Optional[int] = ..., kind: _Optional[str] = ..., body_json: _Optional[str] = ..., hash: _Optional[str] = ..., prev_hash: _Optional[str] = ...) -> None: ...

class ReloadRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SpecStatus(_message.Message):
    __slots__ = ("name", "file", "loaded", "error", "spec_hash")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SPEC_HASH_FIELD_NUMBER: _ClassVar[int]
    name: str
    file: str
    loaded: bool
    error: str
    spec_hash: str
    def __init__(self, name: _Optional[str] = ..., file: _Optional[str] = ..., loaded: _Optional[bool] = ..., error: _Optional[str] = ..., spec_hash: _Optional[str] = ...) -> None: ...

class ReloadResponse(_message.Message):
    __slots__ = ("specs",)
    SPECS_FIELD_NUMBER: _ClassVar[int]
    specs: _containers.RepeatedCompositeFieldContainer[SpecStatus]
    def __init__(self, specs: _Optional[_Iterable[_Union[SpecStatus, _Mapping]]] = ...) -> None: ...

class WatchRevocationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Revocations(_message.Message):
    __slots__ = ("token_ids",)
    TOKEN_IDS_FIELD_NUMBER: _ClassVar[int]
    token_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, token_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ProveInclusionRequest(_message.Message):
    __slots__ = ("seq",)
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...

class ProveConsistencyRequest(_message.Message):
    __slots__ = ("old_size", "new_size")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    new_size: int
    def __init__(self, old_size: _Optional[int] = ..., new_size: _Optional[int] = ...) -> None: ...

class SignedTreeHead(_message.Message):
    __slots__ = ("size", "chain_hash", "root", "signature", "kid")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_HASH_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    size: int
    chain_hash: str
    root: str
    signature: str
    kid: str
    def __init__(self, size: _Optional[int] = ..., chain_hash: _Optional[str] = ..., root: _Optional[str] = ..., signature: _Optional[str] = ..., kid: _Optional[str] = ...) -> None: ...

class InclusionProof(_message.Message):
    __slots__ = ("record", "head", "proof")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    record: Event
    head: SignedTreeHead
    proof: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, record: _Optional[_Union[Event, _Mapping]] = ..., head: _Optional[_Union[SignedTreeHead, _Mapping]] = ..., proof: _Optional[_Iterable[str]] = ...) -> None: ...

class ConsistencyProof(_message.Message):
    __slots__ = ("old_size", "old_root", "new_size", "new_root", "head", "proof")
    OLD_SIZE_FIELD_NUMBER: _ClassVar[int]
    OLD_ROOT_FIELD_NUMBER: _ClassVar[int]
    NEW_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEW_ROOT_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    old_size: int
    old_root: str
    new_size: int
    new_root: str
    head: SignedTreeHead
    proof: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, old_size: _Optional[int] = ..., old_root: _Optional[str] = ..., new_size: _Optional[int] = ..., new_root: _Optional[str] = ..., head: _Optional[_Union[SignedTreeHead, _Mapping]] = ..., proof: _Optional[_Iterable[str]] = ...) -> None: ...
