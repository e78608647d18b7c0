-- DropIndex
DROP INDEX "TrainingImage_trainingId_idx";

-- AlterTable
ALTER TABLE "TrainingImage" ADD COLUMN "hash" TEXT;
ALTER TABLE "TrainingImage" ADD COLUMN "height" INTEGER;
ALTER TABLE "TrainingImage" ADD COLUMN "originalKey" TEXT;
ALTER TABLE "TrainingImage" ADD COLUMN "size" INTEGER;
ALTER TABLE "TrainingImage" ADD COLUMN "thumbnailKey" TEXT;
ALTER TABLE "TrainingImage" ADD COLUMN "width" INTEGER;

-- CreateIndex
CREATE INDEX "TrainingImage_trainingId_createdAt_idx" ON "TrainingImage"("trainingId", "createdAt");

-- CreateIndex
CREATE INDEX "TrainingImage_trainingId_hash_idx" ON "TrainingImage"("trainingId", "hash");
