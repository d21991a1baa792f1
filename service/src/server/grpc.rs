//! The transport: `warden.v1.Warden` over gRPC. Each call authenticates,
//! hands its request to the module that does the job, and turns the typed
//! error into a gRPC status (`crate::error`, the one mapping).

use super::WardenService;
use super::convert::{
    approval_to_proto, consistency_to_proto, inclusion_to_proto, spec_status_proto,
};
use crate::auth::Role;
use crate::engine::Engine;
use crate::proto::{self, warden_server::Warden};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

impl<E: Engine> WardenService<E> {
    async fn decide(
        &self,
        request: Request<proto::DecideRequest>,
        approve: bool,
    ) -> Result<Response<proto::Approval>, Status> {
        let who = self.authorize(&request, &[Role::Approver])?;
        let req = request.into_inner();
        let decided = self
            .decide_as(&who, &req.approval_id, &req.reason, approve)
            .await?;
        Ok(Response::new(approval_to_proto(&decided)))
    }
}

#[tonic::async_trait]
impl<E: Engine> Warden for WardenService<E> {
    async fn submit_plan(
        &self,
        request: Request<proto::SubmitPlanRequest>,
    ) -> Result<Response<proto::SubmitPlanResponse>, Status> {
        let who = self.authorize(&request, &[Role::Submitter])?;
        Ok(Response::new(
            self.submit(&who, request.into_inner()).await?,
        ))
    }

    async fn get_approval(
        &self,
        request: Request<proto::GetApprovalRequest>,
    ) -> Result<Response<proto::Approval>, Status> {
        self.authorize(&request, &[Role::Submitter, Role::Approver])?;
        let rec = self.approval(&request.get_ref().approval_id).await?;
        Ok(Response::new(approval_to_proto(&rec)))
    }

    async fn approve(
        &self,
        request: Request<proto::DecideRequest>,
    ) -> Result<Response<proto::Approval>, Status> {
        self.decide(request, true).await
    }

    async fn deny(
        &self,
        request: Request<proto::DecideRequest>,
    ) -> Result<Response<proto::Approval>, Status> {
        self.decide(request, false).await
    }

    async fn request_call_approval(
        &self,
        request: Request<proto::CallApprovalRequest>,
    ) -> Result<Response<proto::Approval>, Status> {
        let who = self.authorize(&request, &[Role::Submitter])?;
        let rec = self
            .request_call_approval(&who, request.into_inner())
            .await?;
        Ok(Response::new(approval_to_proto(&rec)))
    }

    async fn revoke(
        &self,
        request: Request<proto::RevokeRequest>,
    ) -> Result<Response<proto::RevokeResponse>, Status> {
        let who = self.authorize(&request, &[Role::Approver])?;
        Ok(Response::new(
            WardenService::revoke(self, &who, request.into_inner()).await?,
        ))
    }

    async fn check_action(
        &self,
        request: Request<proto::CheckActionRequest>,
    ) -> Result<Response<proto::CheckActionResponse>, Status> {
        self.authorize(&request, &[Role::Submitter, Role::Approver])?;
        Ok(Response::new(
            WardenService::check_action(self, request.into_inner()).await?,
        ))
    }

    async fn check_result(
        &self,
        request: Request<proto::CheckResultRequest>,
    ) -> Result<Response<proto::CheckActionResponse>, Status> {
        self.authorize(&request, &[Role::Submitter, Role::Approver])?;
        Ok(Response::new(
            WardenService::check_result(self, request.into_inner()).await?,
        ))
    }

    async fn record_enforcement(
        &self,
        request: Request<proto::EnforcementEvent>,
    ) -> Result<Response<proto::RecordEnforcementResponse>, Status> {
        let who = self.authorize(&request, &[Role::Submitter])?;
        Ok(Response::new(
            WardenService::record_enforcement(self, &who, request.into_inner()).await?,
        ))
    }

    type StreamEventsStream = ReceiverStream<Result<proto::Event, Status>>;

    async fn stream_events(
        &self,
        request: Request<proto::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        self.authorize(&request, &[Role::Approver])?;
        Ok(Response::new(WardenService::stream_events(
            self,
            request.into_inner(),
        )?))
    }

    type WatchRevocationsStream = ReceiverStream<Result<proto::Revocations, Status>>;

    async fn watch_revocations(
        &self,
        request: Request<proto::WatchRevocationsRequest>,
    ) -> Result<Response<Self::WatchRevocationsStream>, Status> {
        self.authorize(&request, &[Role::Submitter, Role::Approver])?;
        Ok(Response::new(WardenService::watch_revocations(self)))
    }

    async fn prove_inclusion(
        &self,
        request: Request<proto::ProveInclusionRequest>,
    ) -> Result<Response<proto::InclusionProof>, Status> {
        self.authorize(&request, &[Role::Approver])?;
        let (store, seq) = (self.inner.store.clone(), request.get_ref().seq);
        let proof = tokio::task::spawn_blocking(move || store.prove_inclusion(seq))
            .await
            .map_err(crate::error::ServiceError::from)?
            .map_err(crate::error::ServiceError::from)?;
        Ok(Response::new(inclusion_to_proto(&proof)))
    }

    async fn prove_consistency(
        &self,
        request: Request<proto::ProveConsistencyRequest>,
    ) -> Result<Response<proto::ConsistencyProof>, Status> {
        self.authorize(&request, &[Role::Approver])?;
        let req = request.into_inner();
        let store = self.inner.store.clone();
        let new = (req.new_size > 0).then_some(req.new_size);
        let proof = tokio::task::spawn_blocking(move || store.prove_consistency(req.old_size, new))
            .await
            .map_err(crate::error::ServiceError::from)?
            .map_err(crate::error::ServiceError::from)?;
        Ok(Response::new(consistency_to_proto(&proof)))
    }

    async fn reload(
        &self,
        request: Request<proto::ReloadRequest>,
    ) -> Result<Response<proto::ReloadResponse>, Status> {
        let who = self.authorize(&request, &[Role::Admin])?;
        let statuses = self.reload_everywhere(&who).await?;
        Ok(Response::new(proto::ReloadResponse {
            specs: statuses.iter().map(spec_status_proto).collect(),
        }))
    }
}
