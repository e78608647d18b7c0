-- CreateIndex
CREATE INDEX "TrainingRun_notifiedAt_finishedAt_idx" ON "TrainingRun"("notifiedAt", "finishedAt");
