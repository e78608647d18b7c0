-- AlterTable
ALTER TABLE "TrainingImage" ADD COLUMN     "captionRunId" TEXT,
ADD COLUMN     "captionSource" TEXT;

-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN     "captionOptions" TEXT,
ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'train';

-- CreateTable
CREATE TABLE "CaptionChange" (
    "id" TEXT NOT NULL,
    "before" TEXT,
    "after" TEXT,
    "status" TEXT NOT NULL DEFAULT 'waiting',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "runId" TEXT NOT NULL,
    "imageId" TEXT NOT NULL,

    CONSTRAINT "CaptionChange_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CaptionChange_imageId_idx" ON "CaptionChange"("imageId");

-- CreateIndex
CREATE UNIQUE INDEX "CaptionChange_runId_imageId_key" ON "CaptionChange"("runId", "imageId");

-- AddForeignKey
ALTER TABLE "CaptionChange" ADD CONSTRAINT "CaptionChange_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CaptionChange" ADD CONSTRAINT "CaptionChange_imageId_fkey" FOREIGN KEY ("imageId") REFERENCES "TrainingImage"("id") ON DELETE CASCADE ON UPDATE CASCADE;

