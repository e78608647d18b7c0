-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN     "canceledById" TEXT;

-- CreateIndex
CREATE INDEX "TrainingRun_canceledById_idx" ON "TrainingRun"("canceledById");

-- AddForeignKey
ALTER TABLE "TrainingRun" ADD CONSTRAINT "TrainingRun_canceledById_fkey" FOREIGN KEY ("canceledById") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

