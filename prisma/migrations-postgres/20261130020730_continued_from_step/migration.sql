-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN     "continuedFromStep" INTEGER;

